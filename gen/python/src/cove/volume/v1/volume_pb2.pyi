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

class VolumeState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VOLUME_STATE_UNSPECIFIED: _ClassVar[VolumeState]
    VOLUME_STATE_CREATING: _ClassVar[VolumeState]
    VOLUME_STATE_READY: _ClassVar[VolumeState]
    VOLUME_STATE_DELETING: _ClassVar[VolumeState]
    VOLUME_STATE_DELETED: _ClassVar[VolumeState]
    VOLUME_STATE_ERROR: _ClassVar[VolumeState]
VOLUME_STATE_UNSPECIFIED: VolumeState
VOLUME_STATE_CREATING: VolumeState
VOLUME_STATE_READY: VolumeState
VOLUME_STATE_DELETING: VolumeState
VOLUME_STATE_DELETED: VolumeState
VOLUME_STATE_ERROR: VolumeState

class Volume(_message.Message):
    __slots__ = ("volume_id", "organization_id", "name", "state", "size_limit_mib", "used_mib", "mounted_sandbox_ids", "labels", "error_reason", "error_message", "create_time", "update_time", "last_mount_time")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    VOLUME_ID_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    SIZE_LIMIT_MIB_FIELD_NUMBER: _ClassVar[int]
    USED_MIB_FIELD_NUMBER: _ClassVar[int]
    MOUNTED_SANDBOX_IDS_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    ERROR_REASON_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_MOUNT_TIME_FIELD_NUMBER: _ClassVar[int]
    volume_id: str
    organization_id: str
    name: str
    state: VolumeState
    size_limit_mib: int
    used_mib: int
    mounted_sandbox_ids: _containers.RepeatedScalarFieldContainer[str]
    labels: _containers.ScalarMap[str, str]
    error_reason: _error_reason_pb2.ErrorReason
    error_message: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    last_mount_time: _timestamp_pb2.Timestamp
    def __init__(self, volume_id: _Optional[str] = ..., organization_id: _Optional[str] = ..., name: _Optional[str] = ..., state: _Optional[_Union[VolumeState, str]] = ..., size_limit_mib: _Optional[int] = ..., used_mib: _Optional[int] = ..., mounted_sandbox_ids: _Optional[_Iterable[str]] = ..., labels: _Optional[_Mapping[str, str]] = ..., error_reason: _Optional[_Union[_error_reason_pb2.ErrorReason, str]] = ..., error_message: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_mount_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
