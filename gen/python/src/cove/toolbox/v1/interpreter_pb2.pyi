import datetime

from cove.toolbox.v1 import keepalive_pb2 as _keepalive_pb2
from cove.toolbox.v1 import language_pb2 as _language_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ChartType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHART_TYPE_UNSPECIFIED: _ClassVar[ChartType]
    CHART_TYPE_LINE: _ClassVar[ChartType]
    CHART_TYPE_BAR: _ClassVar[ChartType]
    CHART_TYPE_SCATTER: _ClassVar[ChartType]
    CHART_TYPE_PIE: _ClassVar[ChartType]
CHART_TYPE_UNSPECIFIED: ChartType
CHART_TYPE_LINE: ChartType
CHART_TYPE_BAR: ChartType
CHART_TYPE_SCATTER: ChartType
CHART_TYPE_PIE: ChartType

class CodeContext(_message.Message):
    __slots__ = ("context_id", "language", "cwd", "execution_count", "busy", "create_time")
    CONTEXT_ID_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    CWD_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_COUNT_FIELD_NUMBER: _ClassVar[int]
    BUSY_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    context_id: str
    language: _language_pb2.CodeLanguage
    cwd: str
    execution_count: int
    busy: bool
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, context_id: _Optional[str] = ..., language: _Optional[_Union[_language_pb2.CodeLanguage, str]] = ..., cwd: _Optional[str] = ..., execution_count: _Optional[int] = ..., busy: bool = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ExecutionEvent(_message.Message):
    __slots__ = ("stdout", "stderr", "result", "error", "end", "keepalive")
    STDOUT_FIELD_NUMBER: _ClassVar[int]
    STDERR_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    KEEPALIVE_FIELD_NUMBER: _ClassVar[int]
    stdout: ExecutionText
    stderr: ExecutionText
    result: ExecutionResult
    error: ExecutionError
    end: ExecutionEnd
    keepalive: _keepalive_pb2.Keepalive
    def __init__(self, stdout: _Optional[_Union[ExecutionText, _Mapping]] = ..., stderr: _Optional[_Union[ExecutionText, _Mapping]] = ..., result: _Optional[_Union[ExecutionResult, _Mapping]] = ..., error: _Optional[_Union[ExecutionError, _Mapping]] = ..., end: _Optional[_Union[ExecutionEnd, _Mapping]] = ..., keepalive: _Optional[_Union[_keepalive_pb2.Keepalive, _Mapping]] = ...) -> None: ...

class ExecutionText(_message.Message):
    __slots__ = ("text",)
    TEXT_FIELD_NUMBER: _ClassVar[int]
    text: str
    def __init__(self, text: _Optional[str] = ...) -> None: ...

class ExecutionResult(_message.Message):
    __slots__ = ("is_main_result", "text_data", "binary_data", "chart")
    class TextDataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class BinaryDataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: bytes
        def __init__(self, key: _Optional[str] = ..., value: _Optional[bytes] = ...) -> None: ...
    IS_MAIN_RESULT_FIELD_NUMBER: _ClassVar[int]
    TEXT_DATA_FIELD_NUMBER: _ClassVar[int]
    BINARY_DATA_FIELD_NUMBER: _ClassVar[int]
    CHART_FIELD_NUMBER: _ClassVar[int]
    is_main_result: bool
    text_data: _containers.ScalarMap[str, str]
    binary_data: _containers.ScalarMap[str, bytes]
    chart: Chart
    def __init__(self, is_main_result: bool = ..., text_data: _Optional[_Mapping[str, str]] = ..., binary_data: _Optional[_Mapping[str, bytes]] = ..., chart: _Optional[_Union[Chart, _Mapping]] = ...) -> None: ...

class Chart(_message.Message):
    __slots__ = ("type", "title", "x_axis", "y_axis", "series", "horizontal")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    X_AXIS_FIELD_NUMBER: _ClassVar[int]
    Y_AXIS_FIELD_NUMBER: _ClassVar[int]
    SERIES_FIELD_NUMBER: _ClassVar[int]
    HORIZONTAL_FIELD_NUMBER: _ClassVar[int]
    type: ChartType
    title: str
    x_axis: ChartAxis
    y_axis: ChartAxis
    series: _containers.RepeatedCompositeFieldContainer[ChartSeries]
    horizontal: bool
    def __init__(self, type: _Optional[_Union[ChartType, str]] = ..., title: _Optional[str] = ..., x_axis: _Optional[_Union[ChartAxis, _Mapping]] = ..., y_axis: _Optional[_Union[ChartAxis, _Mapping]] = ..., series: _Optional[_Iterable[_Union[ChartSeries, _Mapping]]] = ..., horizontal: bool = ...) -> None: ...

class ChartAxis(_message.Message):
    __slots__ = ("label", "scale", "ticks", "tick_labels")
    LABEL_FIELD_NUMBER: _ClassVar[int]
    SCALE_FIELD_NUMBER: _ClassVar[int]
    TICKS_FIELD_NUMBER: _ClassVar[int]
    TICK_LABELS_FIELD_NUMBER: _ClassVar[int]
    label: str
    scale: str
    ticks: _containers.RepeatedScalarFieldContainer[float]
    tick_labels: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, label: _Optional[str] = ..., scale: _Optional[str] = ..., ticks: _Optional[_Iterable[float]] = ..., tick_labels: _Optional[_Iterable[str]] = ...) -> None: ...

class ChartSeries(_message.Message):
    __slots__ = ("label", "x", "x_labels", "y")
    LABEL_FIELD_NUMBER: _ClassVar[int]
    X_FIELD_NUMBER: _ClassVar[int]
    X_LABELS_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    label: str
    x: _containers.RepeatedScalarFieldContainer[float]
    x_labels: _containers.RepeatedScalarFieldContainer[str]
    y: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, label: _Optional[str] = ..., x: _Optional[_Iterable[float]] = ..., x_labels: _Optional[_Iterable[str]] = ..., y: _Optional[_Iterable[float]] = ...) -> None: ...

class ExecutionError(_message.Message):
    __slots__ = ("name", "value", "traceback")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    TRACEBACK_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: str
    traceback: str
    def __init__(self, name: _Optional[str] = ..., value: _Optional[str] = ..., traceback: _Optional[str] = ...) -> None: ...

class ExecutionEnd(_message.Message):
    __slots__ = ("execution_count", "timed_out")
    EXECUTION_COUNT_FIELD_NUMBER: _ClassVar[int]
    TIMED_OUT_FIELD_NUMBER: _ClassVar[int]
    execution_count: int
    timed_out: bool
    def __init__(self, execution_count: _Optional[int] = ..., timed_out: bool = ...) -> None: ...
