"""The asyncio flavour of the SDK (grpc.aio): AsyncCove, AsyncSandbox and their toolbox parts."""

from .client import AsyncCove, AsyncSandbox
from .code_interpreter import AsyncCodeInterpreter
from .filesystem import AsyncFileSystem
from .git import AsyncGit
from .iam import AsyncApiKeys, AsyncAudit, AsyncOrganizations
from .process import AsyncProcess, AsyncProcessHandle

__all__ = [
    "AsyncApiKeys",
    "AsyncAudit",
    "AsyncCodeInterpreter",
    "AsyncCove",
    "AsyncFileSystem",
    "AsyncGit",
    "AsyncOrganizations",
    "AsyncProcess",
    "AsyncProcessHandle",
    "AsyncSandbox",
]
