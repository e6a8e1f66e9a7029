"""The asyncio flavour of the SDK (grpc.aio): AsyncCove, AsyncSandbox and their toolbox parts."""

from .client import AsyncCove, AsyncSandbox
from .filesystem import AsyncFileSystem
from .git import AsyncGit
from .process import AsyncProcess, AsyncProcessHandle

__all__ = ["AsyncCove", "AsyncFileSystem", "AsyncGit", "AsyncProcess", "AsyncProcessHandle", "AsyncSandbox"]
