from cove.toolbox.v1 import keepalive_pb2 as _keepalive_pb2
from cove.toolbox.v1 import process_pb2 as _process_pb2
from cove.toolbox.v1 import pty_pb2 as _pty_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreatePtyRequest(_message.Message):
    __slots__ = ("command", "argv", "cwd", "env", "user", "size")
    class EnvEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    ARGV_FIELD_NUMBER: _ClassVar[int]
    CWD_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    command: str
    argv: _process_pb2.Argv
    cwd: str
    env: _containers.ScalarMap[str, str]
    user: str
    size: _pty_pb2.PtySize
    def __init__(self, command: _Optional[str] = ..., argv: _Optional[_Union[_process_pb2.Argv, _Mapping]] = ..., cwd: _Optional[str] = ..., env: _Optional[_Mapping[str, str]] = ..., user: _Optional[str] = ..., size: _Optional[_Union[_pty_pb2.PtySize, _Mapping]] = ...) -> None: ...

class CreatePtyResponse(_message.Message):
    __slots__ = ("pty_id", "pid")
    PTY_ID_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    pty_id: str
    pid: int
    def __init__(self, pty_id: _Optional[str] = ..., pid: _Optional[int] = ...) -> None: ...

class ConnectPtyRequest(_message.Message):
    __slots__ = ("pty_id", "offset")
    PTY_ID_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    pty_id: str
    offset: int
    def __init__(self, pty_id: _Optional[str] = ..., offset: _Optional[int] = ...) -> None: ...

class ConnectPtyResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: _pty_pb2.PtyEvent
    def __init__(self, event: _Optional[_Union[_pty_pb2.PtyEvent, _Mapping]] = ...) -> None: ...

class SendPtyInputRequest(_message.Message):
    __slots__ = ("pty_id", "data")
    PTY_ID_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    pty_id: str
    data: bytes
    def __init__(self, pty_id: _Optional[str] = ..., data: _Optional[bytes] = ...) -> None: ...

class SendPtyInputResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ResizePtyRequest(_message.Message):
    __slots__ = ("pty_id", "size")
    PTY_ID_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    pty_id: str
    size: _pty_pb2.PtySize
    def __init__(self, pty_id: _Optional[str] = ..., size: _Optional[_Union[_pty_pb2.PtySize, _Mapping]] = ...) -> None: ...

class ResizePtyResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class KillPtyRequest(_message.Message):
    __slots__ = ("pty_id",)
    PTY_ID_FIELD_NUMBER: _ClassVar[int]
    pty_id: str
    def __init__(self, pty_id: _Optional[str] = ...) -> None: ...

class KillPtyResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListPtysRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListPtysResponse(_message.Message):
    __slots__ = ("ptys",)
    PTYS_FIELD_NUMBER: _ClassVar[int]
    ptys: _containers.RepeatedCompositeFieldContainer[_pty_pb2.PtyInfo]
    def __init__(self, ptys: _Optional[_Iterable[_Union[_pty_pb2.PtyInfo, _Mapping]]] = ...) -> None: ...

class StreamPtyRequest(_message.Message):
    __slots__ = ("attach", "input", "resize", "keepalive")
    ATTACH_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    RESIZE_FIELD_NUMBER: _ClassVar[int]
    KEEPALIVE_FIELD_NUMBER: _ClassVar[int]
    attach: StreamPtyAttach
    input: bytes
    resize: _pty_pb2.PtySize
    keepalive: _keepalive_pb2.Keepalive
    def __init__(self, attach: _Optional[_Union[StreamPtyAttach, _Mapping]] = ..., input: _Optional[bytes] = ..., resize: _Optional[_Union[_pty_pb2.PtySize, _Mapping]] = ..., keepalive: _Optional[_Union[_keepalive_pb2.Keepalive, _Mapping]] = ...) -> None: ...

class StreamPtyAttach(_message.Message):
    __slots__ = ("pty_id", "offset")
    PTY_ID_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    pty_id: str
    offset: int
    def __init__(self, pty_id: _Optional[str] = ..., offset: _Optional[int] = ...) -> None: ...

class StreamPtyResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: _pty_pb2.PtyEvent
    def __init__(self, event: _Optional[_Union[_pty_pb2.PtyEvent, _Mapping]] = ...) -> None: ...
