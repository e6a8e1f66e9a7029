import datetime

from cove.toolbox.v1 import filesystem_pb2 as _filesystem_pb2
from cove.toolbox.v1 import keepalive_pb2 as _keepalive_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class StatRequest(_message.Message):
    __slots__ = ("path", "follow_symlinks")
    PATH_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_SYMLINKS_FIELD_NUMBER: _ClassVar[int]
    path: str
    follow_symlinks: bool
    def __init__(self, path: _Optional[str] = ..., follow_symlinks: bool = ...) -> None: ...

class StatResponse(_message.Message):
    __slots__ = ("info",)
    INFO_FIELD_NUMBER: _ClassVar[int]
    info: _filesystem_pb2.FileInfo
    def __init__(self, info: _Optional[_Union[_filesystem_pb2.FileInfo, _Mapping]] = ...) -> None: ...

class ListDirRequest(_message.Message):
    __slots__ = ("path", "depth", "page_size", "page_token")
    PATH_FIELD_NUMBER: _ClassVar[int]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    path: str
    depth: int
    page_size: int
    page_token: str
    def __init__(self, path: _Optional[str] = ..., depth: _Optional[int] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListDirResponse(_message.Message):
    __slots__ = ("entries", "next_page_token")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[_filesystem_pb2.FileInfo]
    next_page_token: str
    def __init__(self, entries: _Optional[_Iterable[_Union[_filesystem_pb2.FileInfo, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class MakeDirRequest(_message.Message):
    __slots__ = ("path", "parents", "mode")
    PATH_FIELD_NUMBER: _ClassVar[int]
    PARENTS_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    path: str
    parents: bool
    mode: int
    def __init__(self, path: _Optional[str] = ..., parents: bool = ..., mode: _Optional[int] = ...) -> None: ...

class MakeDirResponse(_message.Message):
    __slots__ = ("info",)
    INFO_FIELD_NUMBER: _ClassVar[int]
    info: _filesystem_pb2.FileInfo
    def __init__(self, info: _Optional[_Union[_filesystem_pb2.FileInfo, _Mapping]] = ...) -> None: ...

class MoveRequest(_message.Message):
    __slots__ = ("source", "destination", "overwrite")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    OVERWRITE_FIELD_NUMBER: _ClassVar[int]
    source: str
    destination: str
    overwrite: bool
    def __init__(self, source: _Optional[str] = ..., destination: _Optional[str] = ..., overwrite: bool = ...) -> None: ...

class MoveResponse(_message.Message):
    __slots__ = ("info",)
    INFO_FIELD_NUMBER: _ClassVar[int]
    info: _filesystem_pb2.FileInfo
    def __init__(self, info: _Optional[_Union[_filesystem_pb2.FileInfo, _Mapping]] = ...) -> None: ...

class RemoveRequest(_message.Message):
    __slots__ = ("path", "recursive")
    PATH_FIELD_NUMBER: _ClassVar[int]
    RECURSIVE_FIELD_NUMBER: _ClassVar[int]
    path: str
    recursive: bool
    def __init__(self, path: _Optional[str] = ..., recursive: bool = ...) -> None: ...

class RemoveResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ReadFileRequest(_message.Message):
    __slots__ = ("path", "offset", "length", "chunk_size_bytes")
    PATH_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    CHUNK_SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    path: str
    offset: int
    length: int
    chunk_size_bytes: int
    def __init__(self, path: _Optional[str] = ..., offset: _Optional[int] = ..., length: _Optional[int] = ..., chunk_size_bytes: _Optional[int] = ...) -> None: ...

class ReadFileResponse(_message.Message):
    __slots__ = ("info", "data", "offset")
    INFO_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    info: _filesystem_pb2.FileInfo
    data: bytes
    offset: int
    def __init__(self, info: _Optional[_Union[_filesystem_pb2.FileInfo, _Mapping]] = ..., data: _Optional[bytes] = ..., offset: _Optional[int] = ...) -> None: ...

class UploadFileRequest(_message.Message):
    __slots__ = ("header", "data")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    header: UploadFileHeader
    data: bytes
    def __init__(self, header: _Optional[_Union[UploadFileHeader, _Mapping]] = ..., data: _Optional[bytes] = ...) -> None: ...

class UploadFileHeader(_message.Message):
    __slots__ = ("path", "mode", "create_parents", "overwrite", "size_bytes")
    PATH_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    CREATE_PARENTS_FIELD_NUMBER: _ClassVar[int]
    OVERWRITE_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    path: str
    mode: int
    create_parents: bool
    overwrite: bool
    size_bytes: int
    def __init__(self, path: _Optional[str] = ..., mode: _Optional[int] = ..., create_parents: bool = ..., overwrite: bool = ..., size_bytes: _Optional[int] = ...) -> None: ...

class UploadFileResponse(_message.Message):
    __slots__ = ("info", "written_bytes")
    INFO_FIELD_NUMBER: _ClassVar[int]
    WRITTEN_BYTES_FIELD_NUMBER: _ClassVar[int]
    info: _filesystem_pb2.FileInfo
    written_bytes: int
    def __init__(self, info: _Optional[_Union[_filesystem_pb2.FileInfo, _Mapping]] = ..., written_bytes: _Optional[int] = ...) -> None: ...

class WriteFileRequest(_message.Message):
    __slots__ = ("path", "data", "mode", "create_parents", "overwrite")
    PATH_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    CREATE_PARENTS_FIELD_NUMBER: _ClassVar[int]
    OVERWRITE_FIELD_NUMBER: _ClassVar[int]
    path: str
    data: bytes
    mode: int
    create_parents: bool
    overwrite: bool
    def __init__(self, path: _Optional[str] = ..., data: _Optional[bytes] = ..., mode: _Optional[int] = ..., create_parents: bool = ..., overwrite: bool = ...) -> None: ...

class WriteFileResponse(_message.Message):
    __slots__ = ("info",)
    INFO_FIELD_NUMBER: _ClassVar[int]
    info: _filesystem_pb2.FileInfo
    def __init__(self, info: _Optional[_Union[_filesystem_pb2.FileInfo, _Mapping]] = ...) -> None: ...

class SetPermissionsRequest(_message.Message):
    __slots__ = ("path", "mode", "owner", "group", "recursive")
    PATH_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    RECURSIVE_FIELD_NUMBER: _ClassVar[int]
    path: str
    mode: int
    owner: str
    group: str
    recursive: bool
    def __init__(self, path: _Optional[str] = ..., mode: _Optional[int] = ..., owner: _Optional[str] = ..., group: _Optional[str] = ..., recursive: bool = ...) -> None: ...

class SetPermissionsResponse(_message.Message):
    __slots__ = ("info",)
    INFO_FIELD_NUMBER: _ClassVar[int]
    info: _filesystem_pb2.FileInfo
    def __init__(self, info: _Optional[_Union[_filesystem_pb2.FileInfo, _Mapping]] = ...) -> None: ...

class FindInFilesRequest(_message.Message):
    __slots__ = ("path", "pattern", "regex", "ignore_case", "include_glob", "max_results", "timeout")
    PATH_FIELD_NUMBER: _ClassVar[int]
    PATTERN_FIELD_NUMBER: _ClassVar[int]
    REGEX_FIELD_NUMBER: _ClassVar[int]
    IGNORE_CASE_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_GLOB_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    path: str
    pattern: str
    regex: bool
    ignore_case: bool
    include_glob: str
    max_results: int
    timeout: _duration_pb2.Duration
    def __init__(self, path: _Optional[str] = ..., pattern: _Optional[str] = ..., regex: bool = ..., ignore_case: bool = ..., include_glob: _Optional[str] = ..., max_results: _Optional[int] = ..., timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class FindInFilesResponse(_message.Message):
    __slots__ = ("matches", "incomplete")
    MATCHES_FIELD_NUMBER: _ClassVar[int]
    INCOMPLETE_FIELD_NUMBER: _ClassVar[int]
    matches: _containers.RepeatedCompositeFieldContainer[_filesystem_pb2.TextMatch]
    incomplete: bool
    def __init__(self, matches: _Optional[_Iterable[_Union[_filesystem_pb2.TextMatch, _Mapping]]] = ..., incomplete: bool = ...) -> None: ...

class SearchFilesRequest(_message.Message):
    __slots__ = ("path", "glob", "max_results")
    PATH_FIELD_NUMBER: _ClassVar[int]
    GLOB_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    path: str
    glob: str
    max_results: int
    def __init__(self, path: _Optional[str] = ..., glob: _Optional[str] = ..., max_results: _Optional[int] = ...) -> None: ...

class SearchFilesResponse(_message.Message):
    __slots__ = ("paths", "incomplete")
    PATHS_FIELD_NUMBER: _ClassVar[int]
    INCOMPLETE_FIELD_NUMBER: _ClassVar[int]
    paths: _containers.RepeatedScalarFieldContainer[str]
    incomplete: bool
    def __init__(self, paths: _Optional[_Iterable[str]] = ..., incomplete: bool = ...) -> None: ...

class ReplaceInFilesRequest(_message.Message):
    __slots__ = ("paths", "pattern", "replacement", "regex", "ignore_case")
    PATHS_FIELD_NUMBER: _ClassVar[int]
    PATTERN_FIELD_NUMBER: _ClassVar[int]
    REPLACEMENT_FIELD_NUMBER: _ClassVar[int]
    REGEX_FIELD_NUMBER: _ClassVar[int]
    IGNORE_CASE_FIELD_NUMBER: _ClassVar[int]
    paths: _containers.RepeatedScalarFieldContainer[str]
    pattern: str
    replacement: str
    regex: bool
    ignore_case: bool
    def __init__(self, paths: _Optional[_Iterable[str]] = ..., pattern: _Optional[str] = ..., replacement: _Optional[str] = ..., regex: bool = ..., ignore_case: bool = ...) -> None: ...

class ReplaceInFilesResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[_filesystem_pb2.ReplaceResult]
    def __init__(self, results: _Optional[_Iterable[_Union[_filesystem_pb2.ReplaceResult, _Mapping]]] = ...) -> None: ...

class WatchDirRequest(_message.Message):
    __slots__ = ("path", "recursive")
    PATH_FIELD_NUMBER: _ClassVar[int]
    RECURSIVE_FIELD_NUMBER: _ClassVar[int]
    path: str
    recursive: bool
    def __init__(self, path: _Optional[str] = ..., recursive: bool = ...) -> None: ...

class WatchDirResponse(_message.Message):
    __slots__ = ("start", "file", "overflow", "keepalive")
    START_FIELD_NUMBER: _ClassVar[int]
    FILE_FIELD_NUMBER: _ClassVar[int]
    OVERFLOW_FIELD_NUMBER: _ClassVar[int]
    KEEPALIVE_FIELD_NUMBER: _ClassVar[int]
    start: WatchDirStart
    file: _filesystem_pb2.FileEvent
    overflow: WatchDirOverflow
    keepalive: _keepalive_pb2.Keepalive
    def __init__(self, start: _Optional[_Union[WatchDirStart, _Mapping]] = ..., file: _Optional[_Union[_filesystem_pb2.FileEvent, _Mapping]] = ..., overflow: _Optional[_Union[WatchDirOverflow, _Mapping]] = ..., keepalive: _Optional[_Union[_keepalive_pb2.Keepalive, _Mapping]] = ...) -> None: ...

class WatchDirStart(_message.Message):
    __slots__ = ("path",)
    PATH_FIELD_NUMBER: _ClassVar[int]
    path: str
    def __init__(self, path: _Optional[str] = ...) -> None: ...

class WatchDirOverflow(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
