import datetime

from cove.errors.v1 import error_reason_pb2 as _error_reason_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SnapshotState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SNAPSHOT_STATE_UNSPECIFIED: _ClassVar[SnapshotState]
    SNAPSHOT_STATE_PENDING: _ClassVar[SnapshotState]
    SNAPSHOT_STATE_BUILDING: _ClassVar[SnapshotState]
    SNAPSHOT_STATE_PULLING: _ClassVar[SnapshotState]
    SNAPSHOT_STATE_ACTIVE: _ClassVar[SnapshotState]
    SNAPSHOT_STATE_ERROR: _ClassVar[SnapshotState]
    SNAPSHOT_STATE_DELETING: _ClassVar[SnapshotState]

class SnapshotSourceType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SNAPSHOT_SOURCE_TYPE_UNSPECIFIED: _ClassVar[SnapshotSourceType]
    SNAPSHOT_SOURCE_TYPE_IMAGE: _ClassVar[SnapshotSourceType]
    SNAPSHOT_SOURCE_TYPE_DOCKERFILE: _ClassVar[SnapshotSourceType]
    SNAPSHOT_SOURCE_TYPE_BUILD_SPEC: _ClassVar[SnapshotSourceType]
    SNAPSHOT_SOURCE_TYPE_SANDBOX: _ClassVar[SnapshotSourceType]

class BuildLogStream(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BUILD_LOG_STREAM_UNSPECIFIED: _ClassVar[BuildLogStream]
    BUILD_LOG_STREAM_STDOUT: _ClassVar[BuildLogStream]
    BUILD_LOG_STREAM_STDERR: _ClassVar[BuildLogStream]
    BUILD_LOG_STREAM_SYSTEM: _ClassVar[BuildLogStream]
SNAPSHOT_STATE_UNSPECIFIED: SnapshotState
SNAPSHOT_STATE_PENDING: SnapshotState
SNAPSHOT_STATE_BUILDING: SnapshotState
SNAPSHOT_STATE_PULLING: SnapshotState
SNAPSHOT_STATE_ACTIVE: SnapshotState
SNAPSHOT_STATE_ERROR: SnapshotState
SNAPSHOT_STATE_DELETING: SnapshotState
SNAPSHOT_SOURCE_TYPE_UNSPECIFIED: SnapshotSourceType
SNAPSHOT_SOURCE_TYPE_IMAGE: SnapshotSourceType
SNAPSHOT_SOURCE_TYPE_DOCKERFILE: SnapshotSourceType
SNAPSHOT_SOURCE_TYPE_BUILD_SPEC: SnapshotSourceType
SNAPSHOT_SOURCE_TYPE_SANDBOX: SnapshotSourceType
BUILD_LOG_STREAM_UNSPECIFIED: BuildLogStream
BUILD_LOG_STREAM_STDOUT: BuildLogStream
BUILD_LOG_STREAM_STDERR: BuildLogStream
BUILD_LOG_STREAM_SYSTEM: BuildLogStream

class Snapshot(_message.Message):
    __slots__ = ("snapshot_id", "organization_id", "name", "state", "source_type", "source_image", "source_sandbox_id", "image", "image_digest", "size_mib", "system", "labels", "error_reason", "error_message", "create_time", "update_time", "last_used_time")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SNAPSHOT_ID_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_TYPE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_IMAGE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    IMAGE_DIGEST_FIELD_NUMBER: _ClassVar[int]
    SIZE_MIB_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    ERROR_REASON_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_USED_TIME_FIELD_NUMBER: _ClassVar[int]
    snapshot_id: str
    organization_id: str
    name: str
    state: SnapshotState
    source_type: SnapshotSourceType
    source_image: str
    source_sandbox_id: str
    image: str
    image_digest: str
    size_mib: int
    system: bool
    labels: _containers.ScalarMap[str, str]
    error_reason: _error_reason_pb2.ErrorReason
    error_message: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    last_used_time: _timestamp_pb2.Timestamp
    def __init__(self, snapshot_id: _Optional[str] = ..., organization_id: _Optional[str] = ..., name: _Optional[str] = ..., state: _Optional[_Union[SnapshotState, str]] = ..., source_type: _Optional[_Union[SnapshotSourceType, str]] = ..., source_image: _Optional[str] = ..., source_sandbox_id: _Optional[str] = ..., image: _Optional[str] = ..., image_digest: _Optional[str] = ..., size_mib: _Optional[int] = ..., system: bool = ..., labels: _Optional[_Mapping[str, str]] = ..., error_reason: _Optional[_Union[_error_reason_pb2.ErrorReason, str]] = ..., error_message: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_used_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class BuildFile(_message.Message):
    __slots__ = ("path", "content", "mode")
    PATH_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    path: str
    content: bytes
    mode: int
    def __init__(self, path: _Optional[str] = ..., content: _Optional[bytes] = ..., mode: _Optional[int] = ...) -> None: ...

class DockerfileBuild(_message.Message):
    __slots__ = ("content", "context_files", "build_args", "target")
    class BuildArgsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FILES_FIELD_NUMBER: _ClassVar[int]
    BUILD_ARGS_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    content: str
    context_files: _containers.RepeatedCompositeFieldContainer[BuildFile]
    build_args: _containers.ScalarMap[str, str]
    target: str
    def __init__(self, content: _Optional[str] = ..., context_files: _Optional[_Iterable[_Union[BuildFile, _Mapping]]] = ..., build_args: _Optional[_Mapping[str, str]] = ..., target: _Optional[str] = ...) -> None: ...

class PackageInstall(_message.Message):
    __slots__ = ("packages", "extra_args")
    PACKAGES_FIELD_NUMBER: _ClassVar[int]
    EXTRA_ARGS_FIELD_NUMBER: _ClassVar[int]
    packages: _containers.RepeatedScalarFieldContainer[str]
    extra_args: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, packages: _Optional[_Iterable[str]] = ..., extra_args: _Optional[_Iterable[str]] = ...) -> None: ...

class EnvVars(_message.Message):
    __slots__ = ("vars",)
    class VarsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    VARS_FIELD_NUMBER: _ClassVar[int]
    vars: _containers.ScalarMap[str, str]
    def __init__(self, vars: _Optional[_Mapping[str, str]] = ...) -> None: ...

class BuildStep(_message.Message):
    __slots__ = ("apt_install", "pip_install", "npm_install", "run", "env", "workdir", "add_file", "user")
    APT_INSTALL_FIELD_NUMBER: _ClassVar[int]
    PIP_INSTALL_FIELD_NUMBER: _ClassVar[int]
    NPM_INSTALL_FIELD_NUMBER: _ClassVar[int]
    RUN_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    WORKDIR_FIELD_NUMBER: _ClassVar[int]
    ADD_FILE_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    apt_install: PackageInstall
    pip_install: PackageInstall
    npm_install: PackageInstall
    run: str
    env: EnvVars
    workdir: str
    add_file: BuildFile
    user: str
    def __init__(self, apt_install: _Optional[_Union[PackageInstall, _Mapping]] = ..., pip_install: _Optional[_Union[PackageInstall, _Mapping]] = ..., npm_install: _Optional[_Union[PackageInstall, _Mapping]] = ..., run: _Optional[str] = ..., env: _Optional[_Union[EnvVars, _Mapping]] = ..., workdir: _Optional[str] = ..., add_file: _Optional[_Union[BuildFile, _Mapping]] = ..., user: _Optional[str] = ...) -> None: ...

class BuildSpec(_message.Message):
    __slots__ = ("base_image", "steps", "entrypoint", "cmd")
    BASE_IMAGE_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    ENTRYPOINT_FIELD_NUMBER: _ClassVar[int]
    CMD_FIELD_NUMBER: _ClassVar[int]
    base_image: str
    steps: _containers.RepeatedCompositeFieldContainer[BuildStep]
    entrypoint: _containers.RepeatedScalarFieldContainer[str]
    cmd: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, base_image: _Optional[str] = ..., steps: _Optional[_Iterable[_Union[BuildStep, _Mapping]]] = ..., entrypoint: _Optional[_Iterable[str]] = ..., cmd: _Optional[_Iterable[str]] = ...) -> None: ...

class BuildLogLine(_message.Message):
    __slots__ = ("time", "stream", "text")
    TIME_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    time: _timestamp_pb2.Timestamp
    stream: BuildLogStream
    text: str
    def __init__(self, time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., stream: _Optional[_Union[BuildLogStream, str]] = ..., text: _Optional[str] = ...) -> None: ...

class SandboxCommit(_message.Message):
    __slots__ = ("sandbox_id",)
    SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    sandbox_id: str
    def __init__(self, sandbox_id: _Optional[str] = ...) -> None: ...

class BuildLogLines(_message.Message):
    __slots__ = ("lines",)
    LINES_FIELD_NUMBER: _ClassVar[int]
    lines: _containers.RepeatedCompositeFieldContainer[BuildLogLine]
    def __init__(self, lines: _Optional[_Iterable[_Union[BuildLogLine, _Mapping]]] = ...) -> None: ...
