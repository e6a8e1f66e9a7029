import datetime

from cove.sandbox.v1 import sandbox_pb2 as _sandbox_pb2
from cove.snapshot.v1 import snapshot_pb2 as _snapshot_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreateSandboxRequest(_message.Message):
    __slots__ = ("image", "snapshot_id", "build_spec", "resources", "env", "labels", "os_user", "public", "network_policy", "auto_stop_interval", "auto_archive_interval", "auto_delete_interval", "volumes", "wait", "wait_timeout", "idempotency_key", "region", "runtime_class")
    class EnvEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_ID_FIELD_NUMBER: _ClassVar[int]
    BUILD_SPEC_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    OS_USER_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_FIELD_NUMBER: _ClassVar[int]
    NETWORK_POLICY_FIELD_NUMBER: _ClassVar[int]
    AUTO_STOP_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    AUTO_ARCHIVE_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    AUTO_DELETE_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    VOLUMES_FIELD_NUMBER: _ClassVar[int]
    WAIT_FIELD_NUMBER: _ClassVar[int]
    WAIT_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    RUNTIME_CLASS_FIELD_NUMBER: _ClassVar[int]
    image: str
    snapshot_id: str
    build_spec: _snapshot_pb2.BuildSpec
    resources: _sandbox_pb2.Resources
    env: _containers.ScalarMap[str, str]
    labels: _containers.ScalarMap[str, str]
    os_user: str
    public: bool
    network_policy: _sandbox_pb2.NetworkPolicy
    auto_stop_interval: _duration_pb2.Duration
    auto_archive_interval: _duration_pb2.Duration
    auto_delete_interval: _duration_pb2.Duration
    volumes: _containers.RepeatedCompositeFieldContainer[_sandbox_pb2.VolumeMount]
    wait: bool
    wait_timeout: _duration_pb2.Duration
    idempotency_key: str
    region: str
    runtime_class: str
    def __init__(self, image: _Optional[str] = ..., snapshot_id: _Optional[str] = ..., build_spec: _Optional[_Union[_snapshot_pb2.BuildSpec, _Mapping]] = ..., resources: _Optional[_Union[_sandbox_pb2.Resources, _Mapping]] = ..., env: _Optional[_Mapping[str, str]] = ..., labels: _Optional[_Mapping[str, str]] = ..., os_user: _Optional[str] = ..., public: bool = ..., network_policy: _Optional[_Union[_sandbox_pb2.NetworkPolicy, _Mapping]] = ..., auto_stop_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., auto_archive_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., auto_delete_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., volumes: _Optional[_Iterable[_Union[_sandbox_pb2.VolumeMount, _Mapping]]] = ..., wait: bool = ..., wait_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., idempotency_key: _Optional[str] = ..., region: _Optional[str] = ..., runtime_class: _Optional[str] = ...) -> None: ...

class CreateSandboxResponse(_message.Message):
    __slots__ = ("sandbox",)
    SANDBOX_FIELD_NUMBER: _ClassVar[int]
    sandbox: _sandbox_pb2.Sandbox
    def __init__(self, sandbox: _Optional[_Union[_sandbox_pb2.Sandbox, _Mapping]] = ...) -> None: ...

class GetSandboxRequest(_message.Message):
    __slots__ = ("sandbox_id",)
    SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    sandbox_id: str
    def __init__(self, sandbox_id: _Optional[str] = ...) -> None: ...

class GetSandboxResponse(_message.Message):
    __slots__ = ("sandbox",)
    SANDBOX_FIELD_NUMBER: _ClassVar[int]
    sandbox: _sandbox_pb2.Sandbox
    def __init__(self, sandbox: _Optional[_Union[_sandbox_pb2.Sandbox, _Mapping]] = ...) -> None: ...

class ListSandboxesRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "labels", "states")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    labels: _containers.ScalarMap[str, str]
    states: _containers.RepeatedScalarFieldContainer[_sandbox_pb2.SandboxState]
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., states: _Optional[_Iterable[_Union[_sandbox_pb2.SandboxState, str]]] = ...) -> None: ...

class ListSandboxesResponse(_message.Message):
    __slots__ = ("sandboxes", "next_page_token")
    SANDBOXES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    sandboxes: _containers.RepeatedCompositeFieldContainer[_sandbox_pb2.Sandbox]
    next_page_token: str
    def __init__(self, sandboxes: _Optional[_Iterable[_Union[_sandbox_pb2.Sandbox, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class StartSandboxRequest(_message.Message):
    __slots__ = ("sandbox_id", "wait", "wait_timeout")
    SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    WAIT_FIELD_NUMBER: _ClassVar[int]
    WAIT_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    sandbox_id: str
    wait: bool
    wait_timeout: _duration_pb2.Duration
    def __init__(self, sandbox_id: _Optional[str] = ..., wait: bool = ..., wait_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class StartSandboxResponse(_message.Message):
    __slots__ = ("sandbox",)
    SANDBOX_FIELD_NUMBER: _ClassVar[int]
    sandbox: _sandbox_pb2.Sandbox
    def __init__(self, sandbox: _Optional[_Union[_sandbox_pb2.Sandbox, _Mapping]] = ...) -> None: ...

class StopSandboxRequest(_message.Message):
    __slots__ = ("sandbox_id", "wait", "wait_timeout", "force")
    SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    WAIT_FIELD_NUMBER: _ClassVar[int]
    WAIT_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    sandbox_id: str
    wait: bool
    wait_timeout: _duration_pb2.Duration
    force: bool
    def __init__(self, sandbox_id: _Optional[str] = ..., wait: bool = ..., wait_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., force: bool = ...) -> None: ...

class StopSandboxResponse(_message.Message):
    __slots__ = ("sandbox",)
    SANDBOX_FIELD_NUMBER: _ClassVar[int]
    sandbox: _sandbox_pb2.Sandbox
    def __init__(self, sandbox: _Optional[_Union[_sandbox_pb2.Sandbox, _Mapping]] = ...) -> None: ...

class ArchiveSandboxRequest(_message.Message):
    __slots__ = ("sandbox_id", "wait", "wait_timeout")
    SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    WAIT_FIELD_NUMBER: _ClassVar[int]
    WAIT_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    sandbox_id: str
    wait: bool
    wait_timeout: _duration_pb2.Duration
    def __init__(self, sandbox_id: _Optional[str] = ..., wait: bool = ..., wait_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class ArchiveSandboxResponse(_message.Message):
    __slots__ = ("sandbox",)
    SANDBOX_FIELD_NUMBER: _ClassVar[int]
    sandbox: _sandbox_pb2.Sandbox
    def __init__(self, sandbox: _Optional[_Union[_sandbox_pb2.Sandbox, _Mapping]] = ...) -> None: ...

class DeleteSandboxRequest(_message.Message):
    __slots__ = ("sandbox_id", "wait", "wait_timeout")
    SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    WAIT_FIELD_NUMBER: _ClassVar[int]
    WAIT_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    sandbox_id: str
    wait: bool
    wait_timeout: _duration_pb2.Duration
    def __init__(self, sandbox_id: _Optional[str] = ..., wait: bool = ..., wait_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class DeleteSandboxResponse(_message.Message):
    __slots__ = ("sandbox",)
    SANDBOX_FIELD_NUMBER: _ClassVar[int]
    sandbox: _sandbox_pb2.Sandbox
    def __init__(self, sandbox: _Optional[_Union[_sandbox_pb2.Sandbox, _Mapping]] = ...) -> None: ...

class RecoverSandboxRequest(_message.Message):
    __slots__ = ("sandbox_id", "wait", "wait_timeout")
    SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    WAIT_FIELD_NUMBER: _ClassVar[int]
    WAIT_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    sandbox_id: str
    wait: bool
    wait_timeout: _duration_pb2.Duration
    def __init__(self, sandbox_id: _Optional[str] = ..., wait: bool = ..., wait_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class RecoverSandboxResponse(_message.Message):
    __slots__ = ("sandbox",)
    SANDBOX_FIELD_NUMBER: _ClassVar[int]
    sandbox: _sandbox_pb2.Sandbox
    def __init__(self, sandbox: _Optional[_Union[_sandbox_pb2.Sandbox, _Mapping]] = ...) -> None: ...

class UpdateSandboxRequest(_message.Message):
    __slots__ = ("sandbox_id", "update_mask", "labels", "public", "auto_stop_interval", "auto_archive_interval", "auto_delete_interval", "network_policy")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_FIELD_NUMBER: _ClassVar[int]
    AUTO_STOP_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    AUTO_ARCHIVE_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    AUTO_DELETE_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    NETWORK_POLICY_FIELD_NUMBER: _ClassVar[int]
    sandbox_id: str
    update_mask: _field_mask_pb2.FieldMask
    labels: _containers.ScalarMap[str, str]
    public: bool
    auto_stop_interval: _duration_pb2.Duration
    auto_archive_interval: _duration_pb2.Duration
    auto_delete_interval: _duration_pb2.Duration
    network_policy: _sandbox_pb2.NetworkPolicy
    def __init__(self, sandbox_id: _Optional[str] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ..., labels: _Optional[_Mapping[str, str]] = ..., public: bool = ..., auto_stop_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., auto_archive_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., auto_delete_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., network_policy: _Optional[_Union[_sandbox_pb2.NetworkPolicy, _Mapping]] = ...) -> None: ...

class UpdateSandboxResponse(_message.Message):
    __slots__ = ("sandbox",)
    SANDBOX_FIELD_NUMBER: _ClassVar[int]
    sandbox: _sandbox_pb2.Sandbox
    def __init__(self, sandbox: _Optional[_Union[_sandbox_pb2.Sandbox, _Mapping]] = ...) -> None: ...

class WatchSandboxRequest(_message.Message):
    __slots__ = ("sandbox_id",)
    SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    sandbox_id: str
    def __init__(self, sandbox_id: _Optional[str] = ...) -> None: ...

class WatchSandboxResponse(_message.Message):
    __slots__ = ("initial", "state_change", "keepalive")
    class StateChange(_message.Message):
        __slots__ = ("sandbox", "previous_state")
        SANDBOX_FIELD_NUMBER: _ClassVar[int]
        PREVIOUS_STATE_FIELD_NUMBER: _ClassVar[int]
        sandbox: _sandbox_pb2.Sandbox
        previous_state: _sandbox_pb2.SandboxState
        def __init__(self, sandbox: _Optional[_Union[_sandbox_pb2.Sandbox, _Mapping]] = ..., previous_state: _Optional[_Union[_sandbox_pb2.SandboxState, str]] = ...) -> None: ...
    class Keepalive(_message.Message):
        __slots__ = ("server_time",)
        SERVER_TIME_FIELD_NUMBER: _ClassVar[int]
        server_time: _timestamp_pb2.Timestamp
        def __init__(self, server_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
    INITIAL_FIELD_NUMBER: _ClassVar[int]
    STATE_CHANGE_FIELD_NUMBER: _ClassVar[int]
    KEEPALIVE_FIELD_NUMBER: _ClassVar[int]
    initial: _sandbox_pb2.Sandbox
    state_change: WatchSandboxResponse.StateChange
    keepalive: WatchSandboxResponse.Keepalive
    def __init__(self, initial: _Optional[_Union[_sandbox_pb2.Sandbox, _Mapping]] = ..., state_change: _Optional[_Union[WatchSandboxResponse.StateChange, _Mapping]] = ..., keepalive: _Optional[_Union[WatchSandboxResponse.Keepalive, _Mapping]] = ...) -> None: ...

class CreatePreviewUrlRequest(_message.Message):
    __slots__ = ("sandbox_id", "port", "expiry")
    SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    EXPIRY_FIELD_NUMBER: _ClassVar[int]
    sandbox_id: str
    port: int
    expiry: _duration_pb2.Duration
    def __init__(self, sandbox_id: _Optional[str] = ..., port: _Optional[int] = ..., expiry: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class CreatePreviewUrlResponse(_message.Message):
    __slots__ = ("url", "token", "signed_url", "expire_time")
    URL_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    SIGNED_URL_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    url: str
    token: str
    signed_url: str
    expire_time: _timestamp_pb2.Timestamp
    def __init__(self, url: _Optional[str] = ..., token: _Optional[str] = ..., signed_url: _Optional[str] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateSshAccessRequest(_message.Message):
    __slots__ = ("sandbox_id", "expiry")
    SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    EXPIRY_FIELD_NUMBER: _ClassVar[int]
    sandbox_id: str
    expiry: _duration_pb2.Duration
    def __init__(self, sandbox_id: _Optional[str] = ..., expiry: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class CreateSshAccessResponse(_message.Message):
    __slots__ = ("token", "ssh_command", "host", "port", "expire_time")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    SSH_COMMAND_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    token: str
    ssh_command: str
    host: str
    port: int
    expire_time: _timestamp_pb2.Timestamp
    def __init__(self, token: _Optional[str] = ..., ssh_command: _Optional[str] = ..., host: _Optional[str] = ..., port: _Optional[int] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RevokeSshAccessRequest(_message.Message):
    __slots__ = ("sandbox_id", "token")
    SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    sandbox_id: str
    token: str
    def __init__(self, sandbox_id: _Optional[str] = ..., token: _Optional[str] = ...) -> None: ...

class RevokeSshAccessResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CreateSandboxTokenRequest(_message.Message):
    __slots__ = ("sandbox_id", "expiry")
    SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    EXPIRY_FIELD_NUMBER: _ClassVar[int]
    sandbox_id: str
    expiry: _duration_pb2.Duration
    def __init__(self, sandbox_id: _Optional[str] = ..., expiry: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class CreateSandboxTokenResponse(_message.Message):
    __slots__ = ("token", "toolbox_url", "expire_time")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOOLBOX_URL_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    token: str
    toolbox_url: str
    expire_time: _timestamp_pb2.Timestamp
    def __init__(self, token: _Optional[str] = ..., toolbox_url: _Optional[str] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
