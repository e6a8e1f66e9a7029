import datetime

from cove.errors.v1 import error_reason_pb2 as _error_reason_pb2
from cove.sandbox.v1 import sandbox_pb2 as _sandbox_pb2
from cove.snapshot.v1 import snapshot_pb2 as _snapshot_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RunnerState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RUNNER_STATE_UNSPECIFIED: _ClassVar[RunnerState]
    RUNNER_STATE_PENDING: _ClassVar[RunnerState]
    RUNNER_STATE_CONNECTED: _ClassVar[RunnerState]
    RUNNER_STATE_DISCONNECTED: _ClassVar[RunnerState]
RUNNER_STATE_UNSPECIFIED: RunnerState
RUNNER_STATE_PENDING: RunnerState
RUNNER_STATE_CONNECTED: RunnerState
RUNNER_STATE_DISCONNECTED: RunnerState

class Runner(_message.Message):
    __slots__ = ("runner_id", "name", "version", "region", "state", "draining", "capacity", "allocated", "metrics", "runtimes", "toolbox_gateway_url", "create_time", "connect_time", "last_heartbeat_time")
    RUNNER_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    DRAINING_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    ALLOCATED_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    RUNTIMES_FIELD_NUMBER: _ClassVar[int]
    TOOLBOX_GATEWAY_URL_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    CONNECT_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_HEARTBEAT_TIME_FIELD_NUMBER: _ClassVar[int]
    runner_id: str
    name: str
    version: str
    region: str
    state: RunnerState
    draining: bool
    capacity: RunnerCapacity
    allocated: RunnerCapacity
    metrics: RunnerMetrics
    runtimes: _containers.RepeatedScalarFieldContainer[str]
    toolbox_gateway_url: str
    create_time: _timestamp_pb2.Timestamp
    connect_time: _timestamp_pb2.Timestamp
    last_heartbeat_time: _timestamp_pb2.Timestamp
    def __init__(self, runner_id: _Optional[str] = ..., name: _Optional[str] = ..., version: _Optional[str] = ..., region: _Optional[str] = ..., state: _Optional[_Union[RunnerState, str]] = ..., draining: bool = ..., capacity: _Optional[_Union[RunnerCapacity, _Mapping]] = ..., allocated: _Optional[_Union[RunnerCapacity, _Mapping]] = ..., metrics: _Optional[_Union[RunnerMetrics, _Mapping]] = ..., runtimes: _Optional[_Iterable[str]] = ..., toolbox_gateway_url: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., connect_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_heartbeat_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RunnerCapacity(_message.Message):
    __slots__ = ("cpu_millicores", "memory_mib", "disk_mib", "max_sandboxes")
    CPU_MILLICORES_FIELD_NUMBER: _ClassVar[int]
    MEMORY_MIB_FIELD_NUMBER: _ClassVar[int]
    DISK_MIB_FIELD_NUMBER: _ClassVar[int]
    MAX_SANDBOXES_FIELD_NUMBER: _ClassVar[int]
    cpu_millicores: int
    memory_mib: int
    disk_mib: int
    max_sandboxes: int
    def __init__(self, cpu_millicores: _Optional[int] = ..., memory_mib: _Optional[int] = ..., disk_mib: _Optional[int] = ..., max_sandboxes: _Optional[int] = ...) -> None: ...

class RunnerMetrics(_message.Message):
    __slots__ = ("cpu_used_millicores", "memory_used_mib", "disk_used_mib", "disk_free_mib", "started_sandboxes", "sandboxes", "running_commands")
    CPU_USED_MILLICORES_FIELD_NUMBER: _ClassVar[int]
    MEMORY_USED_MIB_FIELD_NUMBER: _ClassVar[int]
    DISK_USED_MIB_FIELD_NUMBER: _ClassVar[int]
    DISK_FREE_MIB_FIELD_NUMBER: _ClassVar[int]
    STARTED_SANDBOXES_FIELD_NUMBER: _ClassVar[int]
    SANDBOXES_FIELD_NUMBER: _ClassVar[int]
    RUNNING_COMMANDS_FIELD_NUMBER: _ClassVar[int]
    cpu_used_millicores: int
    memory_used_mib: int
    disk_used_mib: int
    disk_free_mib: int
    started_sandboxes: int
    sandboxes: int
    running_commands: int
    def __init__(self, cpu_used_millicores: _Optional[int] = ..., memory_used_mib: _Optional[int] = ..., disk_used_mib: _Optional[int] = ..., disk_free_mib: _Optional[int] = ..., started_sandboxes: _Optional[int] = ..., sandboxes: _Optional[int] = ..., running_commands: _Optional[int] = ...) -> None: ...

class RunnerImage(_message.Message):
    __slots__ = ("image", "digest", "size_mib")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    SIZE_MIB_FIELD_NUMBER: _ClassVar[int]
    image: str
    digest: str
    size_mib: int
    def __init__(self, image: _Optional[str] = ..., digest: _Optional[str] = ..., size_mib: _Optional[int] = ...) -> None: ...

class SandboxReport(_message.Message):
    __slots__ = ("sandbox_id", "state", "error_reason", "error_message", "image_digest", "observe_time")
    SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ERROR_REASON_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    IMAGE_DIGEST_FIELD_NUMBER: _ClassVar[int]
    OBSERVE_TIME_FIELD_NUMBER: _ClassVar[int]
    sandbox_id: str
    state: _sandbox_pb2.SandboxState
    error_reason: _error_reason_pb2.ErrorReason
    error_message: str
    image_digest: str
    observe_time: _timestamp_pb2.Timestamp
    def __init__(self, sandbox_id: _Optional[str] = ..., state: _Optional[_Union[_sandbox_pb2.SandboxState, str]] = ..., error_reason: _Optional[_Union[_error_reason_pb2.ErrorReason, str]] = ..., error_message: _Optional[str] = ..., image_digest: _Optional[str] = ..., observe_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RegistryCredentials(_message.Message):
    __slots__ = ("server", "username", "password")
    SERVER_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    server: str
    username: str
    password: str
    def __init__(self, server: _Optional[str] = ..., username: _Optional[str] = ..., password: _Optional[str] = ...) -> None: ...

class SandboxSpec(_message.Message):
    __slots__ = ("sandbox_id", "organization_id", "image", "registry_credentials", "resources", "env", "labels", "os_user", "network_policy", "volumes", "runtime_class")
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
    SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    REGISTRY_CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    OS_USER_FIELD_NUMBER: _ClassVar[int]
    NETWORK_POLICY_FIELD_NUMBER: _ClassVar[int]
    VOLUMES_FIELD_NUMBER: _ClassVar[int]
    RUNTIME_CLASS_FIELD_NUMBER: _ClassVar[int]
    sandbox_id: str
    organization_id: str
    image: str
    registry_credentials: RegistryCredentials
    resources: _sandbox_pb2.Resources
    env: _containers.ScalarMap[str, str]
    labels: _containers.ScalarMap[str, str]
    os_user: str
    network_policy: _sandbox_pb2.NetworkPolicy
    volumes: _containers.RepeatedCompositeFieldContainer[_sandbox_pb2.VolumeMount]
    runtime_class: str
    def __init__(self, sandbox_id: _Optional[str] = ..., organization_id: _Optional[str] = ..., image: _Optional[str] = ..., registry_credentials: _Optional[_Union[RegistryCredentials, _Mapping]] = ..., resources: _Optional[_Union[_sandbox_pb2.Resources, _Mapping]] = ..., env: _Optional[_Mapping[str, str]] = ..., labels: _Optional[_Mapping[str, str]] = ..., os_user: _Optional[str] = ..., network_policy: _Optional[_Union[_sandbox_pb2.NetworkPolicy, _Mapping]] = ..., volumes: _Optional[_Iterable[_Union[_sandbox_pb2.VolumeMount, _Mapping]]] = ..., runtime_class: _Optional[str] = ...) -> None: ...

class CreateSandboxCommand(_message.Message):
    __slots__ = ("spec",)
    SPEC_FIELD_NUMBER: _ClassVar[int]
    spec: SandboxSpec
    def __init__(self, spec: _Optional[_Union[SandboxSpec, _Mapping]] = ...) -> None: ...

class StartSandboxCommand(_message.Message):
    __slots__ = ("sandbox_id",)
    SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    sandbox_id: str
    def __init__(self, sandbox_id: _Optional[str] = ...) -> None: ...

class StopSandboxCommand(_message.Message):
    __slots__ = ("sandbox_id", "grace_period")
    SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    GRACE_PERIOD_FIELD_NUMBER: _ClassVar[int]
    sandbox_id: str
    grace_period: _duration_pb2.Duration
    def __init__(self, sandbox_id: _Optional[str] = ..., grace_period: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class DestroySandboxCommand(_message.Message):
    __slots__ = ("sandbox_id",)
    SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    sandbox_id: str
    def __init__(self, sandbox_id: _Optional[str] = ...) -> None: ...

class BuildSnapshotImageCommand(_message.Message):
    __slots__ = ("snapshot_id", "image", "dockerfile", "push", "registry_credentials")
    SNAPSHOT_ID_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    DOCKERFILE_FIELD_NUMBER: _ClassVar[int]
    PUSH_FIELD_NUMBER: _ClassVar[int]
    REGISTRY_CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    snapshot_id: str
    image: str
    dockerfile: _snapshot_pb2.DockerfileBuild
    push: bool
    registry_credentials: RegistryCredentials
    def __init__(self, snapshot_id: _Optional[str] = ..., image: _Optional[str] = ..., dockerfile: _Optional[_Union[_snapshot_pb2.DockerfileBuild, _Mapping]] = ..., push: bool = ..., registry_credentials: _Optional[_Union[RegistryCredentials, _Mapping]] = ...) -> None: ...

class PullSnapshotImageCommand(_message.Message):
    __slots__ = ("snapshot_id", "image", "registry_credentials")
    SNAPSHOT_ID_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    REGISTRY_CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    snapshot_id: str
    image: str
    registry_credentials: RegistryCredentials
    def __init__(self, snapshot_id: _Optional[str] = ..., image: _Optional[str] = ..., registry_credentials: _Optional[_Union[RegistryCredentials, _Mapping]] = ...) -> None: ...

class RemoveSnapshotImageCommand(_message.Message):
    __slots__ = ("snapshot_id", "image")
    SNAPSHOT_ID_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    snapshot_id: str
    image: str
    def __init__(self, snapshot_id: _Optional[str] = ..., image: _Optional[str] = ...) -> None: ...

class CommitSandboxCommand(_message.Message):
    __slots__ = ("sandbox_id", "snapshot_id", "image", "push", "registry_credentials")
    SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_ID_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    PUSH_FIELD_NUMBER: _ClassVar[int]
    REGISTRY_CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    sandbox_id: str
    snapshot_id: str
    image: str
    push: bool
    registry_credentials: RegistryCredentials
    def __init__(self, sandbox_id: _Optional[str] = ..., snapshot_id: _Optional[str] = ..., image: _Optional[str] = ..., push: bool = ..., registry_credentials: _Optional[_Union[RegistryCredentials, _Mapping]] = ...) -> None: ...

class ArchiveSandboxCommand(_message.Message):
    __slots__ = ("sandbox_id", "archive_uri")
    SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    ARCHIVE_URI_FIELD_NUMBER: _ClassVar[int]
    sandbox_id: str
    archive_uri: str
    def __init__(self, sandbox_id: _Optional[str] = ..., archive_uri: _Optional[str] = ...) -> None: ...

class RestoreSandboxCommand(_message.Message):
    __slots__ = ("spec", "archive_uri")
    SPEC_FIELD_NUMBER: _ClassVar[int]
    ARCHIVE_URI_FIELD_NUMBER: _ClassVar[int]
    spec: SandboxSpec
    archive_uri: str
    def __init__(self, spec: _Optional[_Union[SandboxSpec, _Mapping]] = ..., archive_uri: _Optional[str] = ...) -> None: ...

class RemoveVolumeCommand(_message.Message):
    __slots__ = ("volume_id",)
    VOLUME_ID_FIELD_NUMBER: _ClassVar[int]
    volume_id: str
    def __init__(self, volume_id: _Optional[str] = ...) -> None: ...

class UpdateSandboxNetworkCommand(_message.Message):
    __slots__ = ("sandbox_id", "network_policy")
    SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    NETWORK_POLICY_FIELD_NUMBER: _ClassVar[int]
    sandbox_id: str
    network_policy: _sandbox_pb2.NetworkPolicy
    def __init__(self, sandbox_id: _Optional[str] = ..., network_policy: _Optional[_Union[_sandbox_pb2.NetworkPolicy, _Mapping]] = ...) -> None: ...

class RunnerCommand(_message.Message):
    __slots__ = ("command_id", "issue_time", "deadline_time", "attempt", "create_sandbox", "start_sandbox", "stop_sandbox", "destroy_sandbox", "build_snapshot_image", "pull_snapshot_image", "remove_snapshot_image", "commit_sandbox", "archive_sandbox", "restore_sandbox", "remove_volume", "update_sandbox_network")
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    ISSUE_TIME_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_TIME_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    CREATE_SANDBOX_FIELD_NUMBER: _ClassVar[int]
    START_SANDBOX_FIELD_NUMBER: _ClassVar[int]
    STOP_SANDBOX_FIELD_NUMBER: _ClassVar[int]
    DESTROY_SANDBOX_FIELD_NUMBER: _ClassVar[int]
    BUILD_SNAPSHOT_IMAGE_FIELD_NUMBER: _ClassVar[int]
    PULL_SNAPSHOT_IMAGE_FIELD_NUMBER: _ClassVar[int]
    REMOVE_SNAPSHOT_IMAGE_FIELD_NUMBER: _ClassVar[int]
    COMMIT_SANDBOX_FIELD_NUMBER: _ClassVar[int]
    ARCHIVE_SANDBOX_FIELD_NUMBER: _ClassVar[int]
    RESTORE_SANDBOX_FIELD_NUMBER: _ClassVar[int]
    REMOVE_VOLUME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_SANDBOX_NETWORK_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    issue_time: _timestamp_pb2.Timestamp
    deadline_time: _timestamp_pb2.Timestamp
    attempt: int
    create_sandbox: CreateSandboxCommand
    start_sandbox: StartSandboxCommand
    stop_sandbox: StopSandboxCommand
    destroy_sandbox: DestroySandboxCommand
    build_snapshot_image: BuildSnapshotImageCommand
    pull_snapshot_image: PullSnapshotImageCommand
    remove_snapshot_image: RemoveSnapshotImageCommand
    commit_sandbox: CommitSandboxCommand
    archive_sandbox: ArchiveSandboxCommand
    restore_sandbox: RestoreSandboxCommand
    remove_volume: RemoveVolumeCommand
    update_sandbox_network: UpdateSandboxNetworkCommand
    def __init__(self, command_id: _Optional[str] = ..., issue_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., deadline_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., attempt: _Optional[int] = ..., create_sandbox: _Optional[_Union[CreateSandboxCommand, _Mapping]] = ..., start_sandbox: _Optional[_Union[StartSandboxCommand, _Mapping]] = ..., stop_sandbox: _Optional[_Union[StopSandboxCommand, _Mapping]] = ..., destroy_sandbox: _Optional[_Union[DestroySandboxCommand, _Mapping]] = ..., build_snapshot_image: _Optional[_Union[BuildSnapshotImageCommand, _Mapping]] = ..., pull_snapshot_image: _Optional[_Union[PullSnapshotImageCommand, _Mapping]] = ..., remove_snapshot_image: _Optional[_Union[RemoveSnapshotImageCommand, _Mapping]] = ..., commit_sandbox: _Optional[_Union[CommitSandboxCommand, _Mapping]] = ..., archive_sandbox: _Optional[_Union[ArchiveSandboxCommand, _Mapping]] = ..., restore_sandbox: _Optional[_Union[RestoreSandboxCommand, _Mapping]] = ..., remove_volume: _Optional[_Union[RemoveVolumeCommand, _Mapping]] = ..., update_sandbox_network: _Optional[_Union[UpdateSandboxNetworkCommand, _Mapping]] = ...) -> None: ...

class CommandAck(_message.Message):
    __slots__ = ("command_id",)
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    def __init__(self, command_id: _Optional[str] = ...) -> None: ...

class CommandProgress(_message.Message):
    __slots__ = ("command_id", "stage", "percent", "log_lines")
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    PERCENT_FIELD_NUMBER: _ClassVar[int]
    LOG_LINES_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    stage: str
    percent: int
    log_lines: _containers.RepeatedCompositeFieldContainer[_snapshot_pb2.BuildLogLine]
    def __init__(self, command_id: _Optional[str] = ..., stage: _Optional[str] = ..., percent: _Optional[int] = ..., log_lines: _Optional[_Iterable[_Union[_snapshot_pb2.BuildLogLine, _Mapping]]] = ...) -> None: ...

class SandboxResult(_message.Message):
    __slots__ = ("sandbox", "daemon_socket_path", "daemon_version")
    SANDBOX_FIELD_NUMBER: _ClassVar[int]
    DAEMON_SOCKET_PATH_FIELD_NUMBER: _ClassVar[int]
    DAEMON_VERSION_FIELD_NUMBER: _ClassVar[int]
    sandbox: SandboxReport
    daemon_socket_path: str
    daemon_version: str
    def __init__(self, sandbox: _Optional[_Union[SandboxReport, _Mapping]] = ..., daemon_socket_path: _Optional[str] = ..., daemon_version: _Optional[str] = ...) -> None: ...

class ImageResult(_message.Message):
    __slots__ = ("image", "digest", "size_mib")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    SIZE_MIB_FIELD_NUMBER: _ClassVar[int]
    image: str
    digest: str
    size_mib: int
    def __init__(self, image: _Optional[str] = ..., digest: _Optional[str] = ..., size_mib: _Optional[int] = ...) -> None: ...

class ArchiveResult(_message.Message):
    __slots__ = ("archive_uri", "size_mib")
    ARCHIVE_URI_FIELD_NUMBER: _ClassVar[int]
    SIZE_MIB_FIELD_NUMBER: _ClassVar[int]
    archive_uri: str
    size_mib: int
    def __init__(self, archive_uri: _Optional[str] = ..., size_mib: _Optional[int] = ...) -> None: ...

class CommandSuccess(_message.Message):
    __slots__ = ("sandbox", "image", "archive")
    SANDBOX_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    ARCHIVE_FIELD_NUMBER: _ClassVar[int]
    sandbox: SandboxResult
    image: ImageResult
    archive: ArchiveResult
    def __init__(self, sandbox: _Optional[_Union[SandboxResult, _Mapping]] = ..., image: _Optional[_Union[ImageResult, _Mapping]] = ..., archive: _Optional[_Union[ArchiveResult, _Mapping]] = ...) -> None: ...

class CommandError(_message.Message):
    __slots__ = ("reason", "message", "retryable")
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    RETRYABLE_FIELD_NUMBER: _ClassVar[int]
    reason: _error_reason_pb2.ErrorReason
    message: str
    retryable: bool
    def __init__(self, reason: _Optional[_Union[_error_reason_pb2.ErrorReason, str]] = ..., message: _Optional[str] = ..., retryable: bool = ...) -> None: ...

class CommandResult(_message.Message):
    __slots__ = ("command_id", "finish_time", "success", "error")
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    FINISH_TIME_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    finish_time: _timestamp_pb2.Timestamp
    success: CommandSuccess
    error: CommandError
    def __init__(self, command_id: _Optional[str] = ..., finish_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., success: _Optional[_Union[CommandSuccess, _Mapping]] = ..., error: _Optional[_Union[CommandError, _Mapping]] = ...) -> None: ...

class RunnerHello(_message.Message):
    __slots__ = ("runner_id", "name", "version", "region", "capacity", "runtimes", "toolbox_gateway_url", "images", "sandboxes", "running_command_ids")
    RUNNER_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    RUNTIMES_FIELD_NUMBER: _ClassVar[int]
    TOOLBOX_GATEWAY_URL_FIELD_NUMBER: _ClassVar[int]
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    SANDBOXES_FIELD_NUMBER: _ClassVar[int]
    RUNNING_COMMAND_IDS_FIELD_NUMBER: _ClassVar[int]
    runner_id: str
    name: str
    version: str
    region: str
    capacity: RunnerCapacity
    runtimes: _containers.RepeatedScalarFieldContainer[str]
    toolbox_gateway_url: str
    images: _containers.RepeatedCompositeFieldContainer[RunnerImage]
    sandboxes: _containers.RepeatedCompositeFieldContainer[SandboxReport]
    running_command_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, runner_id: _Optional[str] = ..., name: _Optional[str] = ..., version: _Optional[str] = ..., region: _Optional[str] = ..., capacity: _Optional[_Union[RunnerCapacity, _Mapping]] = ..., runtimes: _Optional[_Iterable[str]] = ..., toolbox_gateway_url: _Optional[str] = ..., images: _Optional[_Iterable[_Union[RunnerImage, _Mapping]]] = ..., sandboxes: _Optional[_Iterable[_Union[SandboxReport, _Mapping]]] = ..., running_command_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class RunnerHeartbeat(_message.Message):
    __slots__ = ("sequence", "send_time", "metrics", "ping_id")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    SEND_TIME_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    PING_ID_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    send_time: _timestamp_pb2.Timestamp
    metrics: RunnerMetrics
    ping_id: str
    def __init__(self, sequence: _Optional[int] = ..., send_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., metrics: _Optional[_Union[RunnerMetrics, _Mapping]] = ..., ping_id: _Optional[str] = ...) -> None: ...

class HelloAck(_message.Message):
    __slots__ = ("runner_id", "server_version", "server_time", "heartbeat_interval", "orphan_grace_period", "max_concurrent_commands")
    RUNNER_ID_FIELD_NUMBER: _ClassVar[int]
    SERVER_VERSION_FIELD_NUMBER: _ClassVar[int]
    SERVER_TIME_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    ORPHAN_GRACE_PERIOD_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENT_COMMANDS_FIELD_NUMBER: _ClassVar[int]
    runner_id: str
    server_version: str
    server_time: _timestamp_pb2.Timestamp
    heartbeat_interval: _duration_pb2.Duration
    orphan_grace_period: _duration_pb2.Duration
    max_concurrent_commands: int
    def __init__(self, runner_id: _Optional[str] = ..., server_version: _Optional[str] = ..., server_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., heartbeat_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., orphan_grace_period: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., max_concurrent_commands: _Optional[int] = ...) -> None: ...

class CancelCommand(_message.Message):
    __slots__ = ("command_id",)
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    def __init__(self, command_id: _Optional[str] = ...) -> None: ...

class Ping(_message.Message):
    __slots__ = ("ping_id", "server_time")
    PING_ID_FIELD_NUMBER: _ClassVar[int]
    SERVER_TIME_FIELD_NUMBER: _ClassVar[int]
    ping_id: str
    server_time: _timestamp_pb2.Timestamp
    def __init__(self, ping_id: _Optional[str] = ..., server_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
