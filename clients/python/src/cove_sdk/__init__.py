"""Cove's Python SDK: sandboxes that run untrusted code, over gRPC.

    from cove_sdk import Cove

    with Cove() as cove:                      # COVE_API_KEY, COVE_API_URL, COVE_PROXY_URL
        sandbox = cove.create()
        print(sandbox.process.code_run('print("Sum:", 3 + 4)').result)
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
from .filesystem import FileSystem
from .git import Git
from .models import (
    ExecuteResponse,
    FileInfo,
    GitBranch,
    GitCommitResponse,
    GitFileStatus,
    GitStatus,
    Match,
    PreviewLink,
    ProcessExit,
    ProcessInfo,
    ReplaceResult,
    Resources,
    SandboxResources,
    SearchFilesResponse,
    Session,
    SessionCommand,
    SessionCommandLogs,
    SessionExecuteResponse,
    SshAccess,
)
from .process import Process, ProcessHandle
from .aio import AsyncCove, AsyncSandbox  # noqa: E402 — after the sync names it builds on

__all__ = [
    "AsyncCove",
    "AsyncSandbox",
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
    "ExecuteResponse",
    "FileInfo",
    "FileSystem",
    "Git",
    "GitBranch",
    "GitCommitResponse",
    "GitFileStatus",
    "GitStatus",
    "Match",
    "PreviewLink",
    "Process",
    "ProcessExit",
    "ProcessHandle",
    "ProcessInfo",
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
    "__version__",
]
