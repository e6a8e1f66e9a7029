"""The asyncio client: AsyncCove (sandbox lifecycle) and AsyncSandbox (process, fs, git, ...)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Optional, Union

from cove.sandbox.v1 import sandbox_pb2, sandbox_service_pb2, sandbox_service_pb2_grpc

from .. import _convert as cv
from .._sandbox_base import SandboxData
from .._transport import DEADLINE_MARGIN_S, ClientConfig, auth_metadata
from ..errors import CoveError
from ..models import PreviewLink, Resources, SshAccess
from ._rpc import AsyncRpc
from .code_interpreter import AsyncCodeInterpreter
from .lsp import AsyncLsp, AsyncLspServer
from .filesystem import AsyncFileSystem
from .git import AsyncGit
from .iam import AsyncApiKeys, AsyncAudit, AsyncOrganizations
from .process import AsyncProcess

#: How long deleting the sandbox of a failed create may take, in seconds.
DISCARD_TIMEOUT_S = 30.0

SandboxRef = Union["AsyncSandbox", str]


class AsyncSandbox(SandboxData):
    """One sandbox: its record (id, state, labels, ...) and its toolbox.

    ``process`` runs commands and code, ``fs`` handles files, ``git`` repositories,
    ``code_interpreter`` stateful code contexts, ``lsp`` language servers.
    """

    def __init__(self, cove: AsyncCove, message: sandbox_pb2.Sandbox) -> None:
        self._cove = cove
        self._apply(message)
        self._process: Optional[AsyncProcess] = None
        self._fs: Optional[AsyncFileSystem] = None
        self._git: Optional[AsyncGit] = None
        self._code_interpreter: Optional[AsyncCodeInterpreter] = None
        self._lsp: Optional[AsyncLsp] = None

    def _toolbox(self) -> tuple[Any, Any]:
        # What the caller configured (proxy_url, COVE_PROXY_URL) wins over what the server reports.
        url = self._cove._config.proxy_url or self.toolbox_url
        if not url:
            raise CoveError(f"sandbox {self.id} has no toolbox URL (state {self.state}); set proxy_url")
        return self._cove._rpc.channel(url), auth_metadata(self._cove._config.api_key, self.id)

    @property
    def process(self) -> AsyncProcess:
        """Commands, code, background processes and sessions."""
        if self._process is None:
            self._process = AsyncProcess(self._cove._rpc, *self._toolbox())
        return self._process

    @property
    def fs(self) -> AsyncFileSystem:
        """Files: upload, download, list, search, edit."""
        if self._fs is None:
            self._fs = AsyncFileSystem(self._cove._rpc, *self._toolbox())
        return self._fs

    @property
    def git(self) -> AsyncGit:
        """Git repositories."""
        if self._git is None:
            self._git = AsyncGit(self._cove._rpc, *self._toolbox())
        return self._git

    @property
    def code_interpreter(self) -> AsyncCodeInterpreter:
        """Stateful code contexts: run_code keeps variables between runs."""
        if self._code_interpreter is None:
            self._code_interpreter = AsyncCodeInterpreter(self._cove._rpc, *self._toolbox())
        return self._code_interpreter

    @property
    def lsp(self) -> AsyncLsp:
        """Language servers: completions, hover, definitions, symbols, diagnostics."""
        if self._lsp is None:
            self._lsp = AsyncLsp(self._cove._rpc, *self._toolbox())
        return self._lsp

    def create_lsp_server(self, language_id: str, path_to_project: str) -> AsyncLspServer:
        """A language server ("python", "typescript" or "javascript") for a project (relative to
        the user's home, or absolute); call start() on it. Daytona's name for lsp.create_server."""
        return self.lsp.create_server(language_id, path_to_project)

    async def refresh_data(self) -> None:
        """Re-reads the sandbox's record from the server."""
        self._apply(await self._cove._get_message(self.id))

    async def start(self, timeout: Optional[float] = None) -> None:
        """Starts the sandbox and waits until it is STARTED."""
        self._apply(await self._cove._start_message(self.id, timeout))

    async def stop(self, timeout: Optional[float] = None, force: bool = False) -> None:
        """Stops the sandbox (keeping its files) and waits until it is STOPPED."""
        self._apply(await self._cove._stop_message(self.id, timeout, force))

    async def delete(self, wait: bool = False, timeout: Optional[float] = None) -> None:
        """Deletes the sandbox (from any state); with wait, until it is DESTROYED."""
        self._apply(await self._cove._delete_message(self.id, wait, timeout))

    async def set_labels(self, labels: Mapping[str, str]) -> dict[str, str]:
        """Replaces the sandbox's labels; returns them."""
        request = sandbox_service_pb2.UpdateSandboxRequest(sandbox_id=self.id, labels=dict(labels))
        request.update_mask.paths.append("labels")
        self._apply((await self._cove._unary(self._cove._stub.UpdateSandbox, request)).sandbox)
        return self.labels

    async def get_preview_link(self, port: int, expires_in_minutes: Optional[int] = None) -> PreviewLink:
        """Returns the URL (and token, and signed URL) of an HTTP port inside the sandbox."""
        request = sandbox_service_pb2.CreatePreviewUrlRequest(
            sandbox_id=self.id,
            port=port,
            expiry=cv.duration(None if expires_in_minutes is None else expires_in_minutes * 60.0),
        )
        return cv.preview_link(await self._cove._unary(self._cove._stub.CreatePreviewUrl, request))

    async def create_ssh_access(self, expires_in_minutes: int = 60) -> SshAccess:
        """Mints a short-lived SSH login (`ssh <token>@host -p port`)."""
        request = sandbox_service_pb2.CreateSshAccessRequest(
            sandbox_id=self.id, expiry=cv.duration(expires_in_minutes * 60.0)
        )
        return cv.ssh_access(await self._cove._unary(self._cove._stub.CreateSshAccess, request))

    async def revoke_ssh_access(self, token: Optional[str] = None) -> None:
        """Revokes one SSH token, or all of them when token is None."""
        request = sandbox_service_pb2.RevokeSshAccessRequest(sandbox_id=self.id, token=token or "")
        await self._cove._unary(self._cove._stub.RevokeSshAccess, request)


class AsyncCove:
    """The asyncio Cove client (grpc.aio): creates, finds, starts, stops and deletes sandboxes.

    Settings default to COVE_API_KEY, COVE_API_URL and COVE_PROXY_URL. timeout is the default
    deadline of each call in seconds; failed calls are retried (UNAVAILABLE, throttling,
    ABORTED) up to max_retries times with jittered backoff. Use as ``async with``, or await
    close(), to close the connections.
    """

    def __init__(
        self,
        api_key: Optional[str] = None,
        api_url: Optional[str] = None,
        proxy_url: Optional[str] = None,
        timeout: float = 60,
        max_retries: int = 3,
    ) -> None:
        self._config = ClientConfig.resolve(api_key, api_url, proxy_url, timeout, max_retries)
        self._rpc = AsyncRpc(self._config)
        self._metadata = auth_metadata(self._config.api_key)
        self.__stub: Optional[sandbox_service_pb2_grpc.SandboxServiceStub] = None
        self._organizations: Optional[AsyncOrganizations] = None
        self._api_keys: Optional[AsyncApiKeys] = None
        self._audit: Optional[AsyncAudit] = None

    # The IAM clients are made on first use, like the stub: grpc.aio channels need the loop.

    @property
    def organizations(self) -> AsyncOrganizations:
        """Organizations, their members (add by email, roles), usage and quotas."""
        if self._organizations is None:
            self._organizations = AsyncOrganizations(
                self._rpc, self._rpc.channel(self._config.api_url), self._metadata
            )
        return self._organizations

    @property
    def api_keys(self) -> AsyncApiKeys:
        """The organization's API keys: create, list, revoke."""
        if self._api_keys is None:
            self._api_keys = AsyncApiKeys(self._rpc, self._rpc.channel(self._config.api_url), self._metadata)
        return self._api_keys

    @property
    def audit(self) -> AsyncAudit:
        """The organization's audit log."""
        if self._audit is None:
            self._audit = AsyncAudit(self._rpc, self._rpc.channel(self._config.api_url), self._metadata)
        return self._audit

    async def __aenter__(self) -> AsyncCove:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def close(self) -> None:
        """Closes the client's connections (running sandboxes are not touched)."""
        await self._rpc.close()

    @property
    def _stub(self) -> sandbox_service_pb2_grpc.SandboxServiceStub:
        # grpc.aio channels belong to the running event loop: made on first use, not in __init__.
        if self.__stub is None:
            self.__stub = sandbox_service_pb2_grpc.SandboxServiceStub(self._rpc.channel(self._config.api_url))
        return self.__stub

    async def _unary(self, method: Any, request: Any, **kwargs: Any) -> Any:
        return await self._rpc.unary(method, request, self._metadata, **kwargs)

    def _wait_deadline(self, timeout: Optional[float]) -> tuple[float, float]:
        wait = self._config.timeout if timeout is None else timeout
        return wait, min(wait, 600.0) + DEADLINE_MARGIN_S

    async def create(
        self,
        image: Optional[str] = None,
        resources: Union[Resources, Mapping[str, Any], None] = None,
        env: Optional[Mapping[str, str]] = None,
        labels: Optional[Mapping[str, str]] = None,
        public: bool = False,
        *,
        snapshot: Optional[str] = None,
        os_user: Optional[str] = None,
        auto_stop_interval: Optional[int] = None,
        auto_archive_interval: Optional[int] = None,
        auto_delete_interval: Optional[int] = None,
        network_allow_all: bool = False,
        timeout: Optional[float] = None,
    ) -> AsyncSandbox:
        """Creates a sandbox and returns once it is STARTED and can run code.

        image or snapshot picks what it runs (default: the server's base image); resources are
        cpu cores and memory/disk GiB; intervals are minutes (0 disables). timeout (s) bounds
        the wait. Retries reuse one idempotency key, so a retry never makes a second sandbox.
        A create that fails after the server made the sandbox deletes it before raising.
        """
        wait, deadline = self._wait_deadline(timeout)
        request = cv.create_request(
            image=image,
            snapshot=snapshot,
            resources=resources,
            env=env,
            labels=labels,
            public=public,
            os_user=os_user,
            auto_stop_interval=auto_stop_interval,
            auto_archive_interval=auto_archive_interval,
            auto_delete_interval=auto_delete_interval,
            network_allow_all=network_allow_all,
            timeout=wait,
        )
        started = time.monotonic()
        try:
            res = await self._unary(self._stub.CreateSandbox, request, timeout=deadline)
        except CoveError as e:
            made = cv.created_sandbox_id(e)
            if made:
                await self._discard(made)
            raise
        message = res.sandbox
        if wait > 0 and message.state != sandbox_pb2.SANDBOX_STATE_STARTED:
            # Answered before STARTED: wait here, and leave no sandbox behind the caller never got.
            try:
                message = await self._start_message(message.sandbox_id, max(1.0, wait - (time.monotonic() - started)))
            except CoveError:
                await self._discard(message.sandbox_id)
                raise
        return AsyncSandbox(self, message)

    async def _discard(self, sandbox_id: str) -> None:
        """Deletes the sandbox of a failed create, best effort (its error is what the caller sees)."""
        try:
            await self._unary(
                self._stub.DeleteSandbox,
                sandbox_service_pb2.DeleteSandboxRequest(sandbox_id=sandbox_id, wait=False),
                timeout=DISCARD_TIMEOUT_S,
            )
        except CoveError:
            pass

    async def _get_message(self, sandbox_id: str) -> sandbox_pb2.Sandbox:
        request = sandbox_service_pb2.GetSandboxRequest(sandbox_id=sandbox_id)
        return (await self._unary(self._stub.GetSandbox, request)).sandbox

    async def get(self, sandbox_id: str) -> AsyncSandbox:
        """Returns a sandbox by id; CoveNotFoundError when there is none."""
        return AsyncSandbox(self, await self._get_message(sandbox_id))

    async def list(self, labels: Optional[Mapping[str, str]] = None, limit: Optional[int] = None) -> list[AsyncSandbox]:
        """Lists sandboxes (newest first, not DESTROYED), optionally only those with all labels."""
        out: list[AsyncSandbox] = []
        token = ""
        while limit is None or len(out) < limit:
            request = sandbox_service_pb2.ListSandboxesRequest(
                labels=dict(labels or {}), page_token=token, page_size=min(limit or 500, 500)
            )
            res = await self._unary(self._stub.ListSandboxes, request)
            out.extend(AsyncSandbox(self, m) for m in res.sandboxes)
            token = res.next_page_token
            if not token:
                break
        return out if limit is None else out[:limit]

    async def _start_message(self, sandbox_id: str, timeout: Optional[float]) -> sandbox_pb2.Sandbox:
        wait, deadline = self._wait_deadline(timeout)
        request = sandbox_service_pb2.StartSandboxRequest(
            sandbox_id=sandbox_id, wait=True, wait_timeout=cv.duration(min(wait, 600.0))
        )
        return (await self._unary(self._stub.StartSandbox, request, timeout=deadline)).sandbox

    async def _stop_message(self, sandbox_id: str, timeout: Optional[float], force: bool) -> sandbox_pb2.Sandbox:
        wait, deadline = self._wait_deadline(timeout)
        request = sandbox_service_pb2.StopSandboxRequest(
            sandbox_id=sandbox_id, wait=True, wait_timeout=cv.duration(min(wait, 600.0)), force=force
        )
        return (await self._unary(self._stub.StopSandbox, request, timeout=deadline)).sandbox

    async def _delete_message(self, sandbox_id: str, wait: bool, timeout: Optional[float]) -> sandbox_pb2.Sandbox:
        wait_s, deadline = self._wait_deadline(timeout)
        request = sandbox_service_pb2.DeleteSandboxRequest(sandbox_id=sandbox_id, wait=wait)
        if wait:
            request.wait_timeout.CopyFrom(cv.duration(min(wait_s, 600.0)))
        return (await self._unary(self._stub.DeleteSandbox, request, timeout=deadline)).sandbox

    async def start(self, sandbox: SandboxRef, timeout: Optional[float] = None) -> AsyncSandbox:
        """Starts a stopped (or archived) sandbox and waits until it is STARTED."""
        return self._refreshed(sandbox, await self._start_message(_id(sandbox), timeout))

    async def stop(self, sandbox: SandboxRef, timeout: Optional[float] = None, force: bool = False) -> AsyncSandbox:
        """Stops a sandbox and waits until it is STOPPED."""
        return self._refreshed(sandbox, await self._stop_message(_id(sandbox), timeout, force))

    async def delete(self, sandbox: SandboxRef, wait: bool = False, timeout: Optional[float] = None) -> None:
        """Deletes a sandbox from any state; with wait, returns once it is DESTROYED."""
        self._refreshed(sandbox, await self._delete_message(_id(sandbox), wait, timeout))

    def _refreshed(self, sandbox: SandboxRef, message: sandbox_pb2.Sandbox) -> AsyncSandbox:
        if isinstance(sandbox, AsyncSandbox):
            sandbox._apply(message)
            return sandbox
        return AsyncSandbox(self, message)


def _id(sandbox: SandboxRef) -> str:
    return sandbox if isinstance(sandbox, str) else sandbox.id
