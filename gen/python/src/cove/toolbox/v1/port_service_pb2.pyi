import datetime

from cove.toolbox.v1 import keepalive_pb2 as _keepalive_pb2
from cove.toolbox.v1 import port_pb2 as _port_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ListPortsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListPortsResponse(_message.Message):
    __slots__ = ("ports",)
    PORTS_FIELD_NUMBER: _ClassVar[int]
    ports: _containers.RepeatedCompositeFieldContainer[_port_pb2.ListeningPort]
    def __init__(self, ports: _Optional[_Iterable[_Union[_port_pb2.ListeningPort, _Mapping]]] = ...) -> None: ...

class WaitForPortRequest(_message.Message):
    __slots__ = ("port", "timeout")
    PORT_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    port: int
    timeout: _duration_pb2.Duration
    def __init__(self, port: _Optional[int] = ..., timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class WaitForPortResponse(_message.Message):
    __slots__ = ("port",)
    PORT_FIELD_NUMBER: _ClassVar[int]
    port: _port_pb2.ListeningPort
    def __init__(self, port: _Optional[_Union[_port_pb2.ListeningPort, _Mapping]] = ...) -> None: ...

class TunnelRequest(_message.Message):
    __slots__ = ("open", "data", "keepalive")
    OPEN_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    KEEPALIVE_FIELD_NUMBER: _ClassVar[int]
    open: TunnelOpen
    data: bytes
    keepalive: _keepalive_pb2.Keepalive
    def __init__(self, open: _Optional[_Union[TunnelOpen, _Mapping]] = ..., data: _Optional[bytes] = ..., keepalive: _Optional[_Union[_keepalive_pb2.Keepalive, _Mapping]] = ...) -> None: ...

class TunnelOpen(_message.Message):
    __slots__ = ("port", "connect_timeout")
    PORT_FIELD_NUMBER: _ClassVar[int]
    CONNECT_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    port: int
    connect_timeout: _duration_pb2.Duration
    def __init__(self, port: _Optional[int] = ..., connect_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class TunnelResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: TunnelEvent
    def __init__(self, event: _Optional[_Union[TunnelEvent, _Mapping]] = ...) -> None: ...

class TunnelEvent(_message.Message):
    __slots__ = ("opened", "data", "eof", "keepalive")
    OPENED_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    EOF_FIELD_NUMBER: _ClassVar[int]
    KEEPALIVE_FIELD_NUMBER: _ClassVar[int]
    opened: TunnelOpened
    data: bytes
    eof: TunnelEof
    keepalive: _keepalive_pb2.Keepalive
    def __init__(self, opened: _Optional[_Union[TunnelOpened, _Mapping]] = ..., data: _Optional[bytes] = ..., eof: _Optional[_Union[TunnelEof, _Mapping]] = ..., keepalive: _Optional[_Union[_keepalive_pb2.Keepalive, _Mapping]] = ...) -> None: ...

class TunnelOpened(_message.Message):
    __slots__ = ("tunnel_id", "remote_address")
    TUNNEL_ID_FIELD_NUMBER: _ClassVar[int]
    REMOTE_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    tunnel_id: str
    remote_address: str
    def __init__(self, tunnel_id: _Optional[str] = ..., remote_address: _Optional[str] = ...) -> None: ...

class TunnelEof(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class OpenTunnelRequest(_message.Message):
    __slots__ = ("port", "connect_timeout")
    PORT_FIELD_NUMBER: _ClassVar[int]
    CONNECT_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    port: int
    connect_timeout: _duration_pb2.Duration
    def __init__(self, port: _Optional[int] = ..., connect_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class OpenTunnelResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: TunnelEvent
    def __init__(self, event: _Optional[_Union[TunnelEvent, _Mapping]] = ...) -> None: ...

class SendTunnelDataRequest(_message.Message):
    __slots__ = ("tunnel_id", "data")
    TUNNEL_ID_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    tunnel_id: str
    data: bytes
    def __init__(self, tunnel_id: _Optional[str] = ..., data: _Optional[bytes] = ...) -> None: ...

class SendTunnelDataResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CloseTunnelRequest(_message.Message):
    __slots__ = ("tunnel_id", "abort")
    TUNNEL_ID_FIELD_NUMBER: _ClassVar[int]
    ABORT_FIELD_NUMBER: _ClassVar[int]
    tunnel_id: str
    abort: bool
    def __init__(self, tunnel_id: _Optional[str] = ..., abort: bool = ...) -> None: ...

class CloseTunnelResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
