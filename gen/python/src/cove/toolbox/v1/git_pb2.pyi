import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GitFileState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GIT_FILE_STATE_UNSPECIFIED: _ClassVar[GitFileState]
    GIT_FILE_STATE_MODIFIED: _ClassVar[GitFileState]
    GIT_FILE_STATE_ADDED: _ClassVar[GitFileState]
    GIT_FILE_STATE_DELETED: _ClassVar[GitFileState]
    GIT_FILE_STATE_RENAMED: _ClassVar[GitFileState]
    GIT_FILE_STATE_COPIED: _ClassVar[GitFileState]
    GIT_FILE_STATE_TYPE_CHANGED: _ClassVar[GitFileState]
    GIT_FILE_STATE_UNTRACKED: _ClassVar[GitFileState]
    GIT_FILE_STATE_CONFLICTED: _ClassVar[GitFileState]
GIT_FILE_STATE_UNSPECIFIED: GitFileState
GIT_FILE_STATE_MODIFIED: GitFileState
GIT_FILE_STATE_ADDED: GitFileState
GIT_FILE_STATE_DELETED: GitFileState
GIT_FILE_STATE_RENAMED: GitFileState
GIT_FILE_STATE_COPIED: GitFileState
GIT_FILE_STATE_TYPE_CHANGED: GitFileState
GIT_FILE_STATE_UNTRACKED: GitFileState
GIT_FILE_STATE_CONFLICTED: GitFileState

class GitCredentials(_message.Message):
    __slots__ = ("username", "password")
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    username: str
    password: str
    def __init__(self, username: _Optional[str] = ..., password: _Optional[str] = ...) -> None: ...

class GitFileStatus(_message.Message):
    __slots__ = ("path", "original_path", "staged", "unstaged")
    PATH_FIELD_NUMBER: _ClassVar[int]
    ORIGINAL_PATH_FIELD_NUMBER: _ClassVar[int]
    STAGED_FIELD_NUMBER: _ClassVar[int]
    UNSTAGED_FIELD_NUMBER: _ClassVar[int]
    path: str
    original_path: str
    staged: GitFileState
    unstaged: GitFileState
    def __init__(self, path: _Optional[str] = ..., original_path: _Optional[str] = ..., staged: _Optional[_Union[GitFileState, str]] = ..., unstaged: _Optional[_Union[GitFileState, str]] = ...) -> None: ...

class GitBranch(_message.Message):
    __slots__ = ("name", "remote", "current", "commit_sha", "upstream")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REMOTE_FIELD_NUMBER: _ClassVar[int]
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    COMMIT_SHA_FIELD_NUMBER: _ClassVar[int]
    UPSTREAM_FIELD_NUMBER: _ClassVar[int]
    name: str
    remote: bool
    current: bool
    commit_sha: str
    upstream: str
    def __init__(self, name: _Optional[str] = ..., remote: bool = ..., current: bool = ..., commit_sha: _Optional[str] = ..., upstream: _Optional[str] = ...) -> None: ...

class GitCommit(_message.Message):
    __slots__ = ("sha", "message", "author_name", "author_email", "author_time", "parent_shas")
    SHA_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_NAME_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_EMAIL_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_TIME_FIELD_NUMBER: _ClassVar[int]
    PARENT_SHAS_FIELD_NUMBER: _ClassVar[int]
    sha: str
    message: str
    author_name: str
    author_email: str
    author_time: _timestamp_pb2.Timestamp
    parent_shas: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, sha: _Optional[str] = ..., message: _Optional[str] = ..., author_name: _Optional[str] = ..., author_email: _Optional[str] = ..., author_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., parent_shas: _Optional[_Iterable[str]] = ...) -> None: ...
