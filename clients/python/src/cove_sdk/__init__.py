"""Cove's Python SDK: sandboxes that run untrusted code, over gRPC.

    from cove_sdk import Cove

    with Cove() as cove:                      # COVE_API_KEY, COVE_API_URL, COVE_PROXY_URL
        sandbox = cove.create()
        print(sandbox.process.code_run('print("Sum:", 3 + 4)').result)
        sandbox.code_interpreter.run_code("x = 41")
        print(sandbox.code_interpreter.run_code("x + 1").text)   # "42": state is kept
        cove.delete(sandbox)

The asyncio client is ``cove_sdk.AsyncCove`` (also ``cove_sdk.aio``).
"""

from ._version import __version__
from .client import Cove, Sandbox
from .errors import (
    CoveAuthenticationError,
    CoveConflictError,
    CoveError,
    CoveNotFoundError,
    CovePermissionError,
    CoveQuotaError,
    CoveRateLimitError,
    CoveTimeoutError,
    CoveUnavailableError,
    CoveValidationError,
)
from .code_interpreter import CodeInterpreter
from .filesystem import FileSystem
from .git import Git
from .iam import ApiKeys, Audit, Organizations
from .models import (
    ApiKey,
    AuditEvent,
    CodeContext,
    CreatedApiKey,
    CreatedMember,
    Execution,
    ExecutionError,
    ExecutionResult,
    ExecuteResponse,
    FileInfo,
    GitBranch,
    GitCommit,
    GitCommitResponse,
    GitFileStatus,
    GitInitResponse,
    GitStatus,
    Match,
    Member,
    Organization,
    PreviewLink,
    ProcessExit,
    ProcessInfo,
    Quota,
    ReplaceResult,
    Resources,
    SandboxResources,
    SearchFilesResponse,
    Session,
    SessionCommand,
    SessionCommandLogs,
    SessionExecuteResponse,
    SshAccess,
    Usage,
)
from .process import Process, ProcessHandle
from .aio import AsyncCove, AsyncSandbox  # noqa: E402 — after the sync names it builds on

__all__ = [
    "ApiKey",
    "ApiKeys",
    "AsyncCove",
    "AsyncSandbox",
    "Audit",
    "AuditEvent",
    "CodeContext",
    "CodeInterpreter",
    "Cove",
    "CoveAuthenticationError",
    "CoveConflictError",
    "CoveError",
    "CoveNotFoundError",
    "CovePermissionError",
    "CoveQuotaError",
    "CoveRateLimitError",
    "CoveTimeoutError",
    "CoveUnavailableError",
    "CoveValidationError",
    "CreatedApiKey",
    "CreatedMember",
    "ExecuteResponse",
    "Execution",
    "ExecutionError",
    "ExecutionResult",
    "FileInfo",
    "FileSystem",
    "Git",
    "GitBranch",
    "GitCommit",
    "GitCommitResponse",
    "GitFileStatus",
    "GitInitResponse",
    "GitStatus",
    "Match",
    "Member",
    "Organization",
    "Organizations",
    "PreviewLink",
    "Process",
    "ProcessExit",
    "ProcessHandle",
    "ProcessInfo",
    "Quota",
    "ReplaceResult",
    "Resources",
    "Sandbox",
    "SandboxResources",
    "SearchFilesResponse",
    "Session",
    "SessionCommand",
    "SessionCommandLogs",
    "SessionExecuteResponse",
    "SshAccess",
    "Usage",
    "__version__",
]
