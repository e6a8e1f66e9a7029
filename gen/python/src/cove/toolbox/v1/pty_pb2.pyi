import datetime

from cove.toolbox.v1 import keepalive_pb2 as _keepalive_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PtyExitReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PTY_EXIT_REASON_UNSPECIFIED: _ClassVar[PtyExitReason]
    PTY_EXIT_REASON_EXITED: _ClassVar[PtyExitReason]
    PTY_EXIT_REASON_SIGNALED: _ClassVar[PtyExitReason]
    PTY_EXIT_REASON_KILLED: _ClassVar[PtyExitReason]
PTY_EXIT_REASON_UNSPECIFIED: PtyExitReason
PTY_EXIT_REASON_EXITED: PtyExitReason
PTY_EXIT_REASON_SIGNALED: PtyExitReason
PTY_EXIT_REASON_KILLED: PtyExitReason

class PtySize(_message.Message):
    __slots__ = ("cols", "rows")
    COLS_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    cols: int
    rows: int
    def __init__(self, cols: _Optional[int] = ..., rows: _Optional[int] = ...) -> None: ...

class PtyInfo(_message.Message):
    __slots__ = ("pty_id", "pid", "command", "cwd", "user", "size", "viewer_count", "create_time", "exited")
    PTY_ID_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    CWD_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    VIEWER_COUNT_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    EXITED_FIELD_NUMBER: _ClassVar[int]
    pty_id: str
    pid: int
    command: str
    cwd: str
    user: str
    size: PtySize
    viewer_count: int
    create_time: _timestamp_pb2.Timestamp
    exited: bool
    def __init__(self, pty_id: _Optional[str] = ..., pid: _Optional[int] = ..., command: _Optional[str] = ..., cwd: _Optional[str] = ..., user: _Optional[str] = ..., size: _Optional[_Union[PtySize, _Mapping]] = ..., viewer_count: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., exited: bool = ...) -> None: ...

class PtyEvent(_message.Message):
    __slots__ = ("attached", "data", "exit", "keepalive", "resized")
    ATTACHED_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    EXIT_FIELD_NUMBER: _ClassVar[int]
    KEEPALIVE_FIELD_NUMBER: _ClassVar[int]
    RESIZED_FIELD_NUMBER: _ClassVar[int]
    attached: PtyAttached
    data: PtyData
    exit: PtyExit
    keepalive: _keepalive_pb2.Keepalive
    resized: PtySize
    def __init__(self, attached: _Optional[_Union[PtyAttached, _Mapping]] = ..., data: _Optional[_Union[PtyData, _Mapping]] = ..., exit: _Optional[_Union[PtyExit, _Mapping]] = ..., keepalive: _Optional[_Union[_keepalive_pb2.Keepalive, _Mapping]] = ..., resized: _Optional[_Union[PtySize, _Mapping]] = ...) -> None: ...

class PtyAttached(_message.Message):
    __slots__ = ("pty_id", "pid", "size", "buffer_start_offset")
    PTY_ID_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    BUFFER_START_OFFSET_FIELD_NUMBER: _ClassVar[int]
    pty_id: str
    pid: int
    size: PtySize
    buffer_start_offset: int
    def __init__(self, pty_id: _Optional[str] = ..., pid: _Optional[int] = ..., size: _Optional[_Union[PtySize, _Mapping]] = ..., buffer_start_offset: _Optional[int] = ...) -> None: ...

class PtyData(_message.Message):
    __slots__ = ("data", "offset")
    DATA_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    offset: int
    def __init__(self, data: _Optional[bytes] = ..., offset: _Optional[int] = ...) -> None: ...

class PtyExit(_message.Message):
    __slots__ = ("reason", "exit_code", "signal", "output_end_offset")
    REASON_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_END_OFFSET_FIELD_NUMBER: _ClassVar[int]
    reason: PtyExitReason
    exit_code: int
    signal: int
    output_end_offset: int
    def __init__(self, reason: _Optional[_Union[PtyExitReason, str]] = ..., exit_code: _Optional[int] = ..., signal: _Optional[int] = ..., output_end_offset: _Optional[int] = ...) -> None: ...
