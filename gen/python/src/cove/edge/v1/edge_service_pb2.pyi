import datetime

from cove.edge.v1 import edge_pb2 as _edge_pb2
from cove.sandbox.v1 import sandbox_pb2 as _sandbox_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ResolveSandboxRequest(_message.Message):
    __slots__ = ("sandbox_id", "access", "port", "api_key", "sandbox_token", "preview_token", "signed_url_token", "ssh_token", "client_ip")
    SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    ACCESS_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_TOKEN_FIELD_NUMBER: _ClassVar[int]
    PREVIEW_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SIGNED_URL_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SSH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    CLIENT_IP_FIELD_NUMBER: _ClassVar[int]
    sandbox_id: str
    access: _edge_pb2.AccessKind
    port: int
    api_key: str
    sandbox_token: str
    preview_token: str
    signed_url_token: str
    ssh_token: str
    client_ip: str
    def __init__(self, sandbox_id: _Optional[str] = ..., access: _Optional[_Union[_edge_pb2.AccessKind, str]] = ..., port: _Optional[int] = ..., api_key: _Optional[str] = ..., sandbox_token: _Optional[str] = ..., preview_token: _Optional[str] = ..., signed_url_token: _Optional[str] = ..., ssh_token: _Optional[str] = ..., client_ip: _Optional[str] = ...) -> None: ...

class ResolveSandboxResponse(_message.Message):
    __slots__ = ("sandbox_id", "organization_id", "state", "public", "runner_id", "toolbox_gateway_url", "allowed_port", "os_user", "cache_ttl", "credential_id", "credential_expire_time")
    SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_FIELD_NUMBER: _ClassVar[int]
    RUNNER_ID_FIELD_NUMBER: _ClassVar[int]
    TOOLBOX_GATEWAY_URL_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_PORT_FIELD_NUMBER: _ClassVar[int]
    OS_USER_FIELD_NUMBER: _ClassVar[int]
    CACHE_TTL_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_ID_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    sandbox_id: str
    organization_id: str
    state: _sandbox_pb2.SandboxState
    public: bool
    runner_id: str
    toolbox_gateway_url: str
    allowed_port: int
    os_user: str
    cache_ttl: _duration_pb2.Duration
    credential_id: str
    credential_expire_time: _timestamp_pb2.Timestamp
    def __init__(self, sandbox_id: _Optional[str] = ..., organization_id: _Optional[str] = ..., state: _Optional[_Union[_sandbox_pb2.SandboxState, str]] = ..., public: bool = ..., runner_id: _Optional[str] = ..., toolbox_gateway_url: _Optional[str] = ..., allowed_port: _Optional[int] = ..., os_user: _Optional[str] = ..., cache_ttl: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., credential_id: _Optional[str] = ..., credential_expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class WatchRoutesRequest(_message.Message):
    __slots__ = ("proxy_id",)
    PROXY_ID_FIELD_NUMBER: _ClassVar[int]
    proxy_id: str
    def __init__(self, proxy_id: _Optional[str] = ...) -> None: ...

class WatchRoutesResponse(_message.Message):
    __slots__ = ("reset", "invalidation", "keepalive")
    class Reset(_message.Message):
        __slots__ = ("server_time",)
        SERVER_TIME_FIELD_NUMBER: _ClassVar[int]
        server_time: _timestamp_pb2.Timestamp
        def __init__(self, server_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
    class Keepalive(_message.Message):
        __slots__ = ("server_time",)
        SERVER_TIME_FIELD_NUMBER: _ClassVar[int]
        server_time: _timestamp_pb2.Timestamp
        def __init__(self, server_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
    RESET_FIELD_NUMBER: _ClassVar[int]
    INVALIDATION_FIELD_NUMBER: _ClassVar[int]
    KEEPALIVE_FIELD_NUMBER: _ClassVar[int]
    reset: WatchRoutesResponse.Reset
    invalidation: _edge_pb2.RouteInvalidation
    keepalive: WatchRoutesResponse.Keepalive
    def __init__(self, reset: _Optional[_Union[WatchRoutesResponse.Reset, _Mapping]] = ..., invalidation: _Optional[_Union[_edge_pb2.RouteInvalidation, _Mapping]] = ..., keepalive: _Optional[_Union[WatchRoutesResponse.Keepalive, _Mapping]] = ...) -> None: ...

class RecordActivityRequest(_message.Message):
    __slots__ = ("entries",)
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[_edge_pb2.SandboxActivity]
    def __init__(self, entries: _Optional[_Iterable[_Union[_edge_pb2.SandboxActivity, _Mapping]]] = ...) -> None: ...

class RecordActivityResponse(_message.Message):
    __slots__ = ("updated_count",)
    UPDATED_COUNT_FIELD_NUMBER: _ClassVar[int]
    updated_count: int
    def __init__(self, updated_count: _Optional[int] = ...) -> None: ...
