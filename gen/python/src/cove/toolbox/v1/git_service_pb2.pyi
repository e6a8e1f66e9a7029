import datetime

from cove.toolbox.v1 import git_pb2 as _git_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CloneRequest(_message.Message):
    __slots__ = ("url", "path", "branch", "commit", "depth", "credentials", "timeout")
    URL_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    BRANCH_FIELD_NUMBER: _ClassVar[int]
    COMMIT_FIELD_NUMBER: _ClassVar[int]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    url: str
    path: str
    branch: str
    commit: str
    depth: int
    credentials: _git_pb2.GitCredentials
    timeout: _duration_pb2.Duration
    def __init__(self, url: _Optional[str] = ..., path: _Optional[str] = ..., branch: _Optional[str] = ..., commit: _Optional[str] = ..., depth: _Optional[int] = ..., credentials: _Optional[_Union[_git_pb2.GitCredentials, _Mapping]] = ..., timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class CloneResponse(_message.Message):
    __slots__ = ("path", "head_sha")
    PATH_FIELD_NUMBER: _ClassVar[int]
    HEAD_SHA_FIELD_NUMBER: _ClassVar[int]
    path: str
    head_sha: str
    def __init__(self, path: _Optional[str] = ..., head_sha: _Optional[str] = ...) -> None: ...

class StatusRequest(_message.Message):
    __slots__ = ("path",)
    PATH_FIELD_NUMBER: _ClassVar[int]
    path: str
    def __init__(self, path: _Optional[str] = ...) -> None: ...

class StatusResponse(_message.Message):
    __slots__ = ("branch", "head_sha", "upstream", "ahead", "behind", "files", "files_truncated")
    BRANCH_FIELD_NUMBER: _ClassVar[int]
    HEAD_SHA_FIELD_NUMBER: _ClassVar[int]
    UPSTREAM_FIELD_NUMBER: _ClassVar[int]
    AHEAD_FIELD_NUMBER: _ClassVar[int]
    BEHIND_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    FILES_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    branch: str
    head_sha: str
    upstream: str
    ahead: int
    behind: int
    files: _containers.RepeatedCompositeFieldContainer[_git_pb2.GitFileStatus]
    files_truncated: bool
    def __init__(self, branch: _Optional[str] = ..., head_sha: _Optional[str] = ..., upstream: _Optional[str] = ..., ahead: _Optional[int] = ..., behind: _Optional[int] = ..., files: _Optional[_Iterable[_Union[_git_pb2.GitFileStatus, _Mapping]]] = ..., files_truncated: bool = ...) -> None: ...

class ListBranchesRequest(_message.Message):
    __slots__ = ("path", "include_remote")
    PATH_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_REMOTE_FIELD_NUMBER: _ClassVar[int]
    path: str
    include_remote: bool
    def __init__(self, path: _Optional[str] = ..., include_remote: bool = ...) -> None: ...

class ListBranchesResponse(_message.Message):
    __slots__ = ("branches",)
    BRANCHES_FIELD_NUMBER: _ClassVar[int]
    branches: _containers.RepeatedCompositeFieldContainer[_git_pb2.GitBranch]
    def __init__(self, branches: _Optional[_Iterable[_Union[_git_pb2.GitBranch, _Mapping]]] = ...) -> None: ...

class CreateBranchRequest(_message.Message):
    __slots__ = ("path", "name", "start_point", "checkout")
    PATH_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    START_POINT_FIELD_NUMBER: _ClassVar[int]
    CHECKOUT_FIELD_NUMBER: _ClassVar[int]
    path: str
    name: str
    start_point: str
    checkout: bool
    def __init__(self, path: _Optional[str] = ..., name: _Optional[str] = ..., start_point: _Optional[str] = ..., checkout: bool = ...) -> None: ...

class CreateBranchResponse(_message.Message):
    __slots__ = ("branch",)
    BRANCH_FIELD_NUMBER: _ClassVar[int]
    branch: _git_pb2.GitBranch
    def __init__(self, branch: _Optional[_Union[_git_pb2.GitBranch, _Mapping]] = ...) -> None: ...

class DeleteBranchRequest(_message.Message):
    __slots__ = ("path", "name", "force")
    PATH_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    path: str
    name: str
    force: bool
    def __init__(self, path: _Optional[str] = ..., name: _Optional[str] = ..., force: bool = ...) -> None: ...

class DeleteBranchResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CheckoutRequest(_message.Message):
    __slots__ = ("path", "ref", "force")
    PATH_FIELD_NUMBER: _ClassVar[int]
    REF_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    path: str
    ref: str
    force: bool
    def __init__(self, path: _Optional[str] = ..., ref: _Optional[str] = ..., force: bool = ...) -> None: ...

class CheckoutResponse(_message.Message):
    __slots__ = ("head_sha",)
    HEAD_SHA_FIELD_NUMBER: _ClassVar[int]
    head_sha: str
    def __init__(self, head_sha: _Optional[str] = ...) -> None: ...

class AddRequest(_message.Message):
    __slots__ = ("path", "paths")
    PATH_FIELD_NUMBER: _ClassVar[int]
    PATHS_FIELD_NUMBER: _ClassVar[int]
    path: str
    paths: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, path: _Optional[str] = ..., paths: _Optional[_Iterable[str]] = ...) -> None: ...

class AddResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CommitRequest(_message.Message):
    __slots__ = ("path", "message", "author_name", "author_email", "allow_empty")
    PATH_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_NAME_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_EMAIL_FIELD_NUMBER: _ClassVar[int]
    ALLOW_EMPTY_FIELD_NUMBER: _ClassVar[int]
    path: str
    message: str
    author_name: str
    author_email: str
    allow_empty: bool
    def __init__(self, path: _Optional[str] = ..., message: _Optional[str] = ..., author_name: _Optional[str] = ..., author_email: _Optional[str] = ..., allow_empty: bool = ...) -> None: ...

class CommitResponse(_message.Message):
    __slots__ = ("sha",)
    SHA_FIELD_NUMBER: _ClassVar[int]
    sha: str
    def __init__(self, sha: _Optional[str] = ...) -> None: ...

class PushRequest(_message.Message):
    __slots__ = ("path", "remote", "branch", "set_upstream", "force", "credentials", "timeout")
    PATH_FIELD_NUMBER: _ClassVar[int]
    REMOTE_FIELD_NUMBER: _ClassVar[int]
    BRANCH_FIELD_NUMBER: _ClassVar[int]
    SET_UPSTREAM_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    path: str
    remote: str
    branch: str
    set_upstream: bool
    force: bool
    credentials: _git_pb2.GitCredentials
    timeout: _duration_pb2.Duration
    def __init__(self, path: _Optional[str] = ..., remote: _Optional[str] = ..., branch: _Optional[str] = ..., set_upstream: bool = ..., force: bool = ..., credentials: _Optional[_Union[_git_pb2.GitCredentials, _Mapping]] = ..., timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class PushResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PullRequest(_message.Message):
    __slots__ = ("path", "remote", "branch", "rebase", "credentials", "timeout")
    PATH_FIELD_NUMBER: _ClassVar[int]
    REMOTE_FIELD_NUMBER: _ClassVar[int]
    BRANCH_FIELD_NUMBER: _ClassVar[int]
    REBASE_FIELD_NUMBER: _ClassVar[int]
    CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    path: str
    remote: str
    branch: str
    rebase: bool
    credentials: _git_pb2.GitCredentials
    timeout: _duration_pb2.Duration
    def __init__(self, path: _Optional[str] = ..., remote: _Optional[str] = ..., branch: _Optional[str] = ..., rebase: bool = ..., credentials: _Optional[_Union[_git_pb2.GitCredentials, _Mapping]] = ..., timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class PullResponse(_message.Message):
    __slots__ = ("head_sha",)
    HEAD_SHA_FIELD_NUMBER: _ClassVar[int]
    head_sha: str
    def __init__(self, head_sha: _Optional[str] = ...) -> None: ...

class LogRequest(_message.Message):
    __slots__ = ("path", "ref", "limit")
    PATH_FIELD_NUMBER: _ClassVar[int]
    REF_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    path: str
    ref: str
    limit: int
    def __init__(self, path: _Optional[str] = ..., ref: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class LogResponse(_message.Message):
    __slots__ = ("commits",)
    COMMITS_FIELD_NUMBER: _ClassVar[int]
    commits: _containers.RepeatedCompositeFieldContainer[_git_pb2.GitCommit]
    def __init__(self, commits: _Optional[_Iterable[_Union[_git_pb2.GitCommit, _Mapping]]] = ...) -> None: ...

class InitRequest(_message.Message):
    __slots__ = ("path", "initial_branch", "bare")
    PATH_FIELD_NUMBER: _ClassVar[int]
    INITIAL_BRANCH_FIELD_NUMBER: _ClassVar[int]
    BARE_FIELD_NUMBER: _ClassVar[int]
    path: str
    initial_branch: str
    bare: bool
    def __init__(self, path: _Optional[str] = ..., initial_branch: _Optional[str] = ..., bare: bool = ...) -> None: ...

class InitResponse(_message.Message):
    __slots__ = ("path", "reinitialized")
    PATH_FIELD_NUMBER: _ClassVar[int]
    REINITIALIZED_FIELD_NUMBER: _ClassVar[int]
    path: str
    reinitialized: bool
    def __init__(self, path: _Optional[str] = ..., reinitialized: bool = ...) -> None: ...
