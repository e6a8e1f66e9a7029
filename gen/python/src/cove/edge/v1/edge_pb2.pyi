import datetime

from cove.sandbox.v1 import sandbox_pb2 as _sandbox_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AccessKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACCESS_KIND_UNSPECIFIED: _ClassVar[AccessKind]
    ACCESS_KIND_TOOLBOX: _ClassVar[AccessKind]
    ACCESS_KIND_PREVIEW: _ClassVar[AccessKind]
    ACCESS_KIND_SSH: _ClassVar[AccessKind]

class RouteChangeKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROUTE_CHANGE_KIND_UNSPECIFIED: _ClassVar[RouteChangeKind]
    ROUTE_CHANGE_KIND_SANDBOX_STATE: _ClassVar[RouteChangeKind]
    ROUTE_CHANGE_KIND_SANDBOX_RUNNER: _ClassVar[RouteChangeKind]
    ROUTE_CHANGE_KIND_SANDBOX_ACCESS: _ClassVar[RouteChangeKind]
    ROUTE_CHANGE_KIND_CREDENTIAL_REVOKED: _ClassVar[RouteChangeKind]
    ROUTE_CHANGE_KIND_RUNNER: _ClassVar[RouteChangeKind]
ACCESS_KIND_UNSPECIFIED: AccessKind
ACCESS_KIND_TOOLBOX: AccessKind
ACCESS_KIND_PREVIEW: AccessKind
ACCESS_KIND_SSH: AccessKind
ROUTE_CHANGE_KIND_UNSPECIFIED: RouteChangeKind
ROUTE_CHANGE_KIND_SANDBOX_STATE: RouteChangeKind
ROUTE_CHANGE_KIND_SANDBOX_RUNNER: RouteChangeKind
ROUTE_CHANGE_KIND_SANDBOX_ACCESS: RouteChangeKind
ROUTE_CHANGE_KIND_CREDENTIAL_REVOKED: RouteChangeKind
ROUTE_CHANGE_KIND_RUNNER: RouteChangeKind

class RouteInvalidation(_message.Message):
    __slots__ = ("kind", "sandbox_id", "credential_id", "runner_id", "state", "new_runner_id", "event_time")
    KIND_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_ID_FIELD_NUMBER: _ClassVar[int]
    RUNNER_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    NEW_RUNNER_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_FIELD_NUMBER: _ClassVar[int]
    kind: RouteChangeKind
    sandbox_id: str
    credential_id: str
    runner_id: str
    state: _sandbox_pb2.SandboxState
    new_runner_id: str
    event_time: _timestamp_pb2.Timestamp
    def __init__(self, kind: _Optional[_Union[RouteChangeKind, str]] = ..., sandbox_id: _Optional[str] = ..., credential_id: _Optional[str] = ..., runner_id: _Optional[str] = ..., state: _Optional[_Union[_sandbox_pb2.SandboxState, str]] = ..., new_runner_id: _Optional[str] = ..., event_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SandboxActivity(_message.Message):
    __slots__ = ("sandbox_id", "last_activity_time")
    SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_ACTIVITY_TIME_FIELD_NUMBER: _ClassVar[int]
    sandbox_id: str
    last_activity_time: _timestamp_pb2.Timestamp
    def __init__(self, sandbox_id: _Optional[str] = ..., last_activity_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
