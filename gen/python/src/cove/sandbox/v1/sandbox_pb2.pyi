import datetime

from cove.errors.v1 import error_reason_pb2 as _error_reason_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SandboxState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SANDBOX_STATE_UNSPECIFIED: _ClassVar[SandboxState]
    SANDBOX_STATE_PENDING_BUILD: _ClassVar[SandboxState]
    SANDBOX_STATE_BUILDING_SNAPSHOT: _ClassVar[SandboxState]
    SANDBOX_STATE_PULLING_SNAPSHOT: _ClassVar[SandboxState]
    SANDBOX_STATE_CREATING: _ClassVar[SandboxState]
    SANDBOX_STATE_STARTING: _ClassVar[SandboxState]
    SANDBOX_STATE_STARTED: _ClassVar[SandboxState]
    SANDBOX_STATE_STOPPING: _ClassVar[SandboxState]
    SANDBOX_STATE_STOPPED: _ClassVar[SandboxState]
    SANDBOX_STATE_ARCHIVING: _ClassVar[SandboxState]
    SANDBOX_STATE_ARCHIVED: _ClassVar[SandboxState]
    SANDBOX_STATE_RESTORING: _ClassVar[SandboxState]
    SANDBOX_STATE_DESTROYING: _ClassVar[SandboxState]
    SANDBOX_STATE_DESTROYED: _ClassVar[SandboxState]
    SANDBOX_STATE_ERROR: _ClassVar[SandboxState]

class NetworkPolicyMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NETWORK_POLICY_MODE_UNSPECIFIED: _ClassVar[NetworkPolicyMode]
    NETWORK_POLICY_MODE_BLOCK_ALL: _ClassVar[NetworkPolicyMode]
    NETWORK_POLICY_MODE_ALLOW_LIST: _ClassVar[NetworkPolicyMode]
    NETWORK_POLICY_MODE_ALLOW_ALL: _ClassVar[NetworkPolicyMode]
    NETWORK_POLICY_MODE_ALLOW_PUBLIC: _ClassVar[NetworkPolicyMode]
    NETWORK_POLICY_MODE_ALLOW_DOMAINS: _ClassVar[NetworkPolicyMode]
SANDBOX_STATE_UNSPECIFIED: SandboxState
SANDBOX_STATE_PENDING_BUILD: SandboxState
SANDBOX_STATE_BUILDING_SNAPSHOT: SandboxState
SANDBOX_STATE_PULLING_SNAPSHOT: SandboxState
SANDBOX_STATE_CREATING: SandboxState
SANDBOX_STATE_STARTING: SandboxState
SANDBOX_STATE_STARTED: SandboxState
SANDBOX_STATE_STOPPING: SandboxState
SANDBOX_STATE_STOPPED: SandboxState
SANDBOX_STATE_ARCHIVING: SandboxState
SANDBOX_STATE_ARCHIVED: SandboxState
SANDBOX_STATE_RESTORING: SandboxState
SANDBOX_STATE_DESTROYING: SandboxState
SANDBOX_STATE_DESTROYED: SandboxState
SANDBOX_STATE_ERROR: SandboxState
NETWORK_POLICY_MODE_UNSPECIFIED: NetworkPolicyMode
NETWORK_POLICY_MODE_BLOCK_ALL: NetworkPolicyMode
NETWORK_POLICY_MODE_ALLOW_LIST: NetworkPolicyMode
NETWORK_POLICY_MODE_ALLOW_ALL: NetworkPolicyMode
NETWORK_POLICY_MODE_ALLOW_PUBLIC: NetworkPolicyMode
NETWORK_POLICY_MODE_ALLOW_DOMAINS: NetworkPolicyMode

class Resources(_message.Message):
    __slots__ = ("cpu_millicores", "memory_mib", "disk_mib")
    CPU_MILLICORES_FIELD_NUMBER: _ClassVar[int]
    MEMORY_MIB_FIELD_NUMBER: _ClassVar[int]
    DISK_MIB_FIELD_NUMBER: _ClassVar[int]
    cpu_millicores: int
    memory_mib: int
    disk_mib: int
    def __init__(self, cpu_millicores: _Optional[int] = ..., memory_mib: _Optional[int] = ..., disk_mib: _Optional[int] = ...) -> None: ...

class NetworkPolicy(_message.Message):
    __slots__ = ("mode", "allow_cidrs", "allow_domains")
    MODE_FIELD_NUMBER: _ClassVar[int]
    ALLOW_CIDRS_FIELD_NUMBER: _ClassVar[int]
    ALLOW_DOMAINS_FIELD_NUMBER: _ClassVar[int]
    mode: NetworkPolicyMode
    allow_cidrs: _containers.RepeatedScalarFieldContainer[str]
    allow_domains: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, mode: _Optional[_Union[NetworkPolicyMode, str]] = ..., allow_cidrs: _Optional[_Iterable[str]] = ..., allow_domains: _Optional[_Iterable[str]] = ...) -> None: ...

class VolumeMount(_message.Message):
    __slots__ = ("volume_id", "mount_path", "read_only", "sub_path")
    VOLUME_ID_FIELD_NUMBER: _ClassVar[int]
    MOUNT_PATH_FIELD_NUMBER: _ClassVar[int]
    READ_ONLY_FIELD_NUMBER: _ClassVar[int]
    SUB_PATH_FIELD_NUMBER: _ClassVar[int]
    volume_id: str
    mount_path: str
    read_only: bool
    sub_path: str
    def __init__(self, volume_id: _Optional[str] = ..., mount_path: _Optional[str] = ..., read_only: bool = ..., sub_path: _Optional[str] = ...) -> None: ...

class Sandbox(_message.Message):
    __slots__ = ("sandbox_id", "organization_id", "snapshot_id", "image", "state", "desired_state", "error_reason", "error_message", "recoverable", "resources", "labels", "os_user", "public", "network_policy", "auto_stop_interval", "auto_archive_interval", "auto_delete_interval", "volumes", "region", "runtime_class", "runner_id", "toolbox_url", "create_time", "update_time", "state_change_time", "last_activity_time")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_ID_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    DESIRED_STATE_FIELD_NUMBER: _ClassVar[int]
    ERROR_REASON_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    RECOVERABLE_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    OS_USER_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_FIELD_NUMBER: _ClassVar[int]
    NETWORK_POLICY_FIELD_NUMBER: _ClassVar[int]
    AUTO_STOP_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    AUTO_ARCHIVE_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    AUTO_DELETE_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    VOLUMES_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    RUNTIME_CLASS_FIELD_NUMBER: _ClassVar[int]
    RUNNER_ID_FIELD_NUMBER: _ClassVar[int]
    TOOLBOX_URL_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    STATE_CHANGE_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_ACTIVITY_TIME_FIELD_NUMBER: _ClassVar[int]
    sandbox_id: str
    organization_id: str
    snapshot_id: str
    image: str
    state: SandboxState
    desired_state: SandboxState
    error_reason: _error_reason_pb2.ErrorReason
    error_message: str
    recoverable: bool
    resources: Resources
    labels: _containers.ScalarMap[str, str]
    os_user: str
    public: bool
    network_policy: NetworkPolicy
    auto_stop_interval: _duration_pb2.Duration
    auto_archive_interval: _duration_pb2.Duration
    auto_delete_interval: _duration_pb2.Duration
    volumes: _containers.RepeatedCompositeFieldContainer[VolumeMount]
    region: str
    runtime_class: str
    runner_id: str
    toolbox_url: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    state_change_time: _timestamp_pb2.Timestamp
    last_activity_time: _timestamp_pb2.Timestamp
    def __init__(self, sandbox_id: _Optional[str] = ..., organization_id: _Optional[str] = ..., snapshot_id: _Optional[str] = ..., image: _Optional[str] = ..., state: _Optional[_Union[SandboxState, str]] = ..., desired_state: _Optional[_Union[SandboxState, str]] = ..., error_reason: _Optional[_Union[_error_reason_pb2.ErrorReason, str]] = ..., error_message: _Optional[str] = ..., recoverable: bool = ..., resources: _Optional[_Union[Resources, _Mapping]] = ..., labels: _Optional[_Mapping[str, str]] = ..., os_user: _Optional[str] = ..., public: bool = ..., network_policy: _Optional[_Union[NetworkPolicy, _Mapping]] = ..., auto_stop_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., auto_archive_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., auto_delete_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., volumes: _Optional[_Iterable[_Union[VolumeMount, _Mapping]]] = ..., region: _Optional[str] = ..., runtime_class: _Optional[str] = ..., runner_id: _Optional[str] = ..., toolbox_url: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., state_change_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_activity_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
