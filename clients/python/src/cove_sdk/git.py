"""sandbox.git: init, clone, status, stage, commit, log, push, pull and branches inside the sandbox."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

import grpc
from cove.toolbox.v1 import git_service_pb2 as git_pb2
from cove.toolbox.v1 import git_service_pb2_grpc

from . import _convert as cv
from ._transport import DEADLINE_MARGIN_S
from .models import GitBranch, GitCommit, GitCommitResponse, GitInitResponse, GitStatus

if TYPE_CHECKING:
    from ._rpc import SyncRpc

#: Network operations (clone, push, pull) get this long by default, in seconds.
GIT_NETWORK_TIMEOUT_S = 600.0


class Git:
    """Git in one sandbox (``sandbox.git``); path is the repository's work tree."""

    def __init__(self, rpc: SyncRpc, channel: grpc.Channel, metadata: Any) -> None:
        self._rpc = rpc
        self._stub = git_service_pb2_grpc.GitServiceStub(channel)
        self._metadata = metadata

    def _unary(self, method: Any, request: Any, **kwargs: Any) -> Any:
        return self._rpc.unary(method, request, self._metadata, **kwargs)

    def clone(
        self,
        url: str,
        path: str,
        branch: Optional[str] = None,
        commit_id: Optional[str] = None,
        username: Optional[str] = None,
        password: Optional[str] = None,
        depth: int = 0,
        timeout: float = GIT_NETWORK_TIMEOUT_S,
    ) -> str:
        """Clones url into path; returns the checked-out commit's hash."""
        request = git_pb2.CloneRequest(
            url=url,
            path=path,
            branch=branch or "",
            commit=commit_id or "",
            depth=depth,
            credentials=cv.credentials(username, password),
            timeout=cv.duration(timeout),
        )
        res = self._unary(self._stub.Clone, request, timeout=timeout + DEADLINE_MARGIN_S, idempotent=False)
        return res.head_sha

    def init(self, path: str, initial_branch: Optional[str] = None, bare: bool = False) -> GitInitResponse:
        """Makes an empty repository at path (missing folders are created); first branch "main".

        In an existing repository nothing changes and ``reinitialized`` is True.
        """
        request = git_pb2.InitRequest(path=path, initial_branch=initial_branch or "", bare=bare)
        res = self._unary(self._stub.Init, request)
        return GitInitResponse(path=res.path, reinitialized=res.reinitialized)

    def log(self, path: str, ref: Optional[str] = None, limit: int = 0) -> list[GitCommit]:
        """Commits reachable from ref (default HEAD), newest first; limit 0 means 50 (at most 1000)."""
        request = git_pb2.LogRequest(path=path, ref=ref or "", limit=limit)
        return [cv.git_commit(c) for c in (self._unary(self._stub.Log, request)).commits]

    def status(self, path: str) -> GitStatus:
        """Current branch, ahead/behind counts and changed files."""
        return cv.git_status(self._unary(self._stub.Status, git_pb2.StatusRequest(path=path)))

    def branches(self, path: str, include_remote: bool = False) -> list[GitBranch]:
        """Local branches (and remote-tracking ones with include_remote)."""
        request = git_pb2.ListBranchesRequest(path=path, include_remote=include_remote)
        return [cv.git_branch(b) for b in self._unary(self._stub.ListBranches, request).branches]

    def create_branch(self, path: str, name: str, checkout: bool = False) -> GitBranch:
        """Creates a branch at HEAD, optionally switching to it."""
        request = git_pb2.CreateBranchRequest(path=path, name=name, checkout=checkout)
        return cv.git_branch(self._unary(self._stub.CreateBranch, request, idempotent=False).branch)

    def delete_branch(self, path: str, name: str, force: bool = False) -> None:
        """Deletes a local branch."""
        self._unary(self._stub.DeleteBranch, git_pb2.DeleteBranchRequest(path=path, name=name, force=force))

    def checkout_branch(self, path: str, ref: str, force: bool = False) -> str:
        """Checks out a branch, tag or commit; returns the new HEAD hash."""
        request = git_pb2.CheckoutRequest(path=path, ref=ref, force=force)
        return self._unary(self._stub.Checkout, request).head_sha

    def add(self, path: str, files: list[str]) -> None:
        """Stages files (relative to the repository root; "." for everything)."""
        self._unary(self._stub.Add, git_pb2.AddRequest(path=path, paths=list(files)))

    def commit(
        self,
        path: str,
        message: str,
        author: Optional[str] = None,
        email: Optional[str] = None,
        allow_empty: bool = False,
    ) -> GitCommitResponse:
        """Commits the staged changes; returns the new commit's hash."""
        request = git_pb2.CommitRequest(
            path=path, message=message, author_name=author or "", author_email=email or "", allow_empty=allow_empty
        )
        return GitCommitResponse(sha=self._unary(self._stub.Commit, request, idempotent=False).sha)

    def push(
        self,
        path: str,
        username: Optional[str] = None,
        password: Optional[str] = None,
        remote: Optional[str] = None,
        branch: Optional[str] = None,
        set_upstream: bool = False,
        timeout: float = GIT_NETWORK_TIMEOUT_S,
    ) -> None:
        """Pushes the current (or given) branch."""
        request = git_pb2.PushRequest(
            path=path,
            remote=remote or "",
            branch=branch or "",
            set_upstream=set_upstream,
            credentials=cv.credentials(username, password),
            timeout=cv.duration(timeout),
        )
        self._unary(self._stub.Push, request, timeout=timeout + DEADLINE_MARGIN_S, idempotent=False)

    def pull(
        self,
        path: str,
        username: Optional[str] = None,
        password: Optional[str] = None,
        remote: Optional[str] = None,
        branch: Optional[str] = None,
        rebase: bool = False,
        timeout: float = GIT_NETWORK_TIMEOUT_S,
    ) -> str:
        """Pulls into the current branch; returns HEAD's hash afterwards."""
        request = git_pb2.PullRequest(
            path=path,
            remote=remote or "",
            branch=branch or "",
            rebase=rebase,
            credentials=cv.credentials(username, password),
            timeout=cv.duration(timeout),
        )
        res = self._unary(self._stub.Pull, request, timeout=timeout + DEADLINE_MARGIN_S, idempotent=False)
        return res.head_sha
