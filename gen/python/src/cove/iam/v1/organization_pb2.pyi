import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Role(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROLE_UNSPECIFIED: _ClassVar[Role]
    ROLE_OWNER: _ClassVar[Role]
    ROLE_ADMIN: _ClassVar[Role]
    ROLE_MEMBER: _ClassVar[Role]
    ROLE_VIEWER: _ClassVar[Role]
ROLE_UNSPECIFIED: Role
ROLE_OWNER: Role
ROLE_ADMIN: Role
ROLE_MEMBER: Role
ROLE_VIEWER: Role

class Organization(_message.Message):
    __slots__ = ("organization_id", "name", "quota", "create_time", "update_time")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    QUOTA_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    name: str
    quota: Quota
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, organization_id: _Optional[str] = ..., name: _Optional[str] = ..., quota: _Optional[_Union[Quota, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Member(_message.Message):
    __slots__ = ("organization_id", "user_id", "email", "display_name", "role", "create_time", "update_time")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    user_id: str
    email: str
    display_name: str
    role: Role
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, organization_id: _Optional[str] = ..., user_id: _Optional[str] = ..., email: _Optional[str] = ..., display_name: _Optional[str] = ..., role: _Optional[_Union[Role, str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Quota(_message.Message):
    __slots__ = ("max_sandboxes", "max_started_sandboxes", "total_cpu_millicores", "total_memory_mib", "total_disk_mib", "max_sandbox_cpu_millicores", "max_sandbox_memory_mib", "max_sandbox_disk_mib", "max_snapshots", "max_volumes", "max_api_keys", "requests_per_minute")
    MAX_SANDBOXES_FIELD_NUMBER: _ClassVar[int]
    MAX_STARTED_SANDBOXES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_CPU_MILLICORES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_MEMORY_MIB_FIELD_NUMBER: _ClassVar[int]
    TOTAL_DISK_MIB_FIELD_NUMBER: _ClassVar[int]
    MAX_SANDBOX_CPU_MILLICORES_FIELD_NUMBER: _ClassVar[int]
    MAX_SANDBOX_MEMORY_MIB_FIELD_NUMBER: _ClassVar[int]
    MAX_SANDBOX_DISK_MIB_FIELD_NUMBER: _ClassVar[int]
    MAX_SNAPSHOTS_FIELD_NUMBER: _ClassVar[int]
    MAX_VOLUMES_FIELD_NUMBER: _ClassVar[int]
    MAX_API_KEYS_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    max_sandboxes: int
    max_started_sandboxes: int
    total_cpu_millicores: int
    total_memory_mib: int
    total_disk_mib: int
    max_sandbox_cpu_millicores: int
    max_sandbox_memory_mib: int
    max_sandbox_disk_mib: int
    max_snapshots: int
    max_volumes: int
    max_api_keys: int
    requests_per_minute: int
    def __init__(self, max_sandboxes: _Optional[int] = ..., max_started_sandboxes: _Optional[int] = ..., total_cpu_millicores: _Optional[int] = ..., total_memory_mib: _Optional[int] = ..., total_disk_mib: _Optional[int] = ..., max_sandbox_cpu_millicores: _Optional[int] = ..., max_sandbox_memory_mib: _Optional[int] = ..., max_sandbox_disk_mib: _Optional[int] = ..., max_snapshots: _Optional[int] = ..., max_volumes: _Optional[int] = ..., max_api_keys: _Optional[int] = ..., requests_per_minute: _Optional[int] = ...) -> None: ...

class Usage(_message.Message):
    __slots__ = ("sandboxes", "started_sandboxes", "cpu_millicores", "memory_mib", "disk_mib", "snapshots", "volumes", "api_keys", "observe_time")
    SANDBOXES_FIELD_NUMBER: _ClassVar[int]
    STARTED_SANDBOXES_FIELD_NUMBER: _ClassVar[int]
    CPU_MILLICORES_FIELD_NUMBER: _ClassVar[int]
    MEMORY_MIB_FIELD_NUMBER: _ClassVar[int]
    DISK_MIB_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOTS_FIELD_NUMBER: _ClassVar[int]
    VOLUMES_FIELD_NUMBER: _ClassVar[int]
    API_KEYS_FIELD_NUMBER: _ClassVar[int]
    OBSERVE_TIME_FIELD_NUMBER: _ClassVar[int]
    sandboxes: int
    started_sandboxes: int
    cpu_millicores: int
    memory_mib: int
    disk_mib: int
    snapshots: int
    volumes: int
    api_keys: int
    observe_time: _timestamp_pb2.Timestamp
    def __init__(self, sandboxes: _Optional[int] = ..., started_sandboxes: _Optional[int] = ..., cpu_millicores: _Optional[int] = ..., memory_mib: _Optional[int] = ..., disk_mib: _Optional[int] = ..., snapshots: _Optional[int] = ..., volumes: _Optional[int] = ..., api_keys: _Optional[int] = ..., observe_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
