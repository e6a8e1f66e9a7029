import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LspCompletionItemKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LSP_COMPLETION_ITEM_KIND_UNSPECIFIED: _ClassVar[LspCompletionItemKind]
    LSP_COMPLETION_ITEM_KIND_TEXT: _ClassVar[LspCompletionItemKind]
    LSP_COMPLETION_ITEM_KIND_METHOD: _ClassVar[LspCompletionItemKind]
    LSP_COMPLETION_ITEM_KIND_FUNCTION: _ClassVar[LspCompletionItemKind]
    LSP_COMPLETION_ITEM_KIND_CONSTRUCTOR: _ClassVar[LspCompletionItemKind]
    LSP_COMPLETION_ITEM_KIND_FIELD: _ClassVar[LspCompletionItemKind]
    LSP_COMPLETION_ITEM_KIND_VARIABLE: _ClassVar[LspCompletionItemKind]
    LSP_COMPLETION_ITEM_KIND_CLASS: _ClassVar[LspCompletionItemKind]
    LSP_COMPLETION_ITEM_KIND_INTERFACE: _ClassVar[LspCompletionItemKind]
    LSP_COMPLETION_ITEM_KIND_MODULE: _ClassVar[LspCompletionItemKind]
    LSP_COMPLETION_ITEM_KIND_PROPERTY: _ClassVar[LspCompletionItemKind]
    LSP_COMPLETION_ITEM_KIND_UNIT: _ClassVar[LspCompletionItemKind]
    LSP_COMPLETION_ITEM_KIND_VALUE: _ClassVar[LspCompletionItemKind]
    LSP_COMPLETION_ITEM_KIND_ENUM: _ClassVar[LspCompletionItemKind]
    LSP_COMPLETION_ITEM_KIND_KEYWORD: _ClassVar[LspCompletionItemKind]
    LSP_COMPLETION_ITEM_KIND_SNIPPET: _ClassVar[LspCompletionItemKind]
    LSP_COMPLETION_ITEM_KIND_COLOR: _ClassVar[LspCompletionItemKind]
    LSP_COMPLETION_ITEM_KIND_FILE: _ClassVar[LspCompletionItemKind]
    LSP_COMPLETION_ITEM_KIND_REFERENCE: _ClassVar[LspCompletionItemKind]
    LSP_COMPLETION_ITEM_KIND_FOLDER: _ClassVar[LspCompletionItemKind]
    LSP_COMPLETION_ITEM_KIND_ENUM_MEMBER: _ClassVar[LspCompletionItemKind]
    LSP_COMPLETION_ITEM_KIND_CONSTANT: _ClassVar[LspCompletionItemKind]
    LSP_COMPLETION_ITEM_KIND_STRUCT: _ClassVar[LspCompletionItemKind]
    LSP_COMPLETION_ITEM_KIND_EVENT: _ClassVar[LspCompletionItemKind]
    LSP_COMPLETION_ITEM_KIND_OPERATOR: _ClassVar[LspCompletionItemKind]
    LSP_COMPLETION_ITEM_KIND_TYPE_PARAMETER: _ClassVar[LspCompletionItemKind]

class LspSymbolKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LSP_SYMBOL_KIND_UNSPECIFIED: _ClassVar[LspSymbolKind]
    LSP_SYMBOL_KIND_FILE: _ClassVar[LspSymbolKind]
    LSP_SYMBOL_KIND_MODULE: _ClassVar[LspSymbolKind]
    LSP_SYMBOL_KIND_NAMESPACE: _ClassVar[LspSymbolKind]
    LSP_SYMBOL_KIND_PACKAGE: _ClassVar[LspSymbolKind]
    LSP_SYMBOL_KIND_CLASS: _ClassVar[LspSymbolKind]
    LSP_SYMBOL_KIND_METHOD: _ClassVar[LspSymbolKind]
    LSP_SYMBOL_KIND_PROPERTY: _ClassVar[LspSymbolKind]
    LSP_SYMBOL_KIND_FIELD: _ClassVar[LspSymbolKind]
    LSP_SYMBOL_KIND_CONSTRUCTOR: _ClassVar[LspSymbolKind]
    LSP_SYMBOL_KIND_ENUM: _ClassVar[LspSymbolKind]
    LSP_SYMBOL_KIND_INTERFACE: _ClassVar[LspSymbolKind]
    LSP_SYMBOL_KIND_FUNCTION: _ClassVar[LspSymbolKind]
    LSP_SYMBOL_KIND_VARIABLE: _ClassVar[LspSymbolKind]
    LSP_SYMBOL_KIND_CONSTANT: _ClassVar[LspSymbolKind]
    LSP_SYMBOL_KIND_STRING: _ClassVar[LspSymbolKind]
    LSP_SYMBOL_KIND_NUMBER: _ClassVar[LspSymbolKind]
    LSP_SYMBOL_KIND_BOOLEAN: _ClassVar[LspSymbolKind]
    LSP_SYMBOL_KIND_ARRAY: _ClassVar[LspSymbolKind]
    LSP_SYMBOL_KIND_OBJECT: _ClassVar[LspSymbolKind]
    LSP_SYMBOL_KIND_KEY: _ClassVar[LspSymbolKind]
    LSP_SYMBOL_KIND_NULL: _ClassVar[LspSymbolKind]
    LSP_SYMBOL_KIND_ENUM_MEMBER: _ClassVar[LspSymbolKind]
    LSP_SYMBOL_KIND_STRUCT: _ClassVar[LspSymbolKind]
    LSP_SYMBOL_KIND_EVENT: _ClassVar[LspSymbolKind]
    LSP_SYMBOL_KIND_OPERATOR: _ClassVar[LspSymbolKind]
    LSP_SYMBOL_KIND_TYPE_PARAMETER: _ClassVar[LspSymbolKind]

class LspDiagnosticSeverity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LSP_DIAGNOSTIC_SEVERITY_UNSPECIFIED: _ClassVar[LspDiagnosticSeverity]
    LSP_DIAGNOSTIC_SEVERITY_ERROR: _ClassVar[LspDiagnosticSeverity]
    LSP_DIAGNOSTIC_SEVERITY_WARNING: _ClassVar[LspDiagnosticSeverity]
    LSP_DIAGNOSTIC_SEVERITY_INFORMATION: _ClassVar[LspDiagnosticSeverity]
    LSP_DIAGNOSTIC_SEVERITY_HINT: _ClassVar[LspDiagnosticSeverity]
LSP_COMPLETION_ITEM_KIND_UNSPECIFIED: LspCompletionItemKind
LSP_COMPLETION_ITEM_KIND_TEXT: LspCompletionItemKind
LSP_COMPLETION_ITEM_KIND_METHOD: LspCompletionItemKind
LSP_COMPLETION_ITEM_KIND_FUNCTION: LspCompletionItemKind
LSP_COMPLETION_ITEM_KIND_CONSTRUCTOR: LspCompletionItemKind
LSP_COMPLETION_ITEM_KIND_FIELD: LspCompletionItemKind
LSP_COMPLETION_ITEM_KIND_VARIABLE: LspCompletionItemKind
LSP_COMPLETION_ITEM_KIND_CLASS: LspCompletionItemKind
LSP_COMPLETION_ITEM_KIND_INTERFACE: LspCompletionItemKind
LSP_COMPLETION_ITEM_KIND_MODULE: LspCompletionItemKind
LSP_COMPLETION_ITEM_KIND_PROPERTY: LspCompletionItemKind
LSP_COMPLETION_ITEM_KIND_UNIT: LspCompletionItemKind
LSP_COMPLETION_ITEM_KIND_VALUE: LspCompletionItemKind
LSP_COMPLETION_ITEM_KIND_ENUM: LspCompletionItemKind
LSP_COMPLETION_ITEM_KIND_KEYWORD: LspCompletionItemKind
LSP_COMPLETION_ITEM_KIND_SNIPPET: LspCompletionItemKind
LSP_COMPLETION_ITEM_KIND_COLOR: LspCompletionItemKind
LSP_COMPLETION_ITEM_KIND_FILE: LspCompletionItemKind
LSP_COMPLETION_ITEM_KIND_REFERENCE: LspCompletionItemKind
LSP_COMPLETION_ITEM_KIND_FOLDER: LspCompletionItemKind
LSP_COMPLETION_ITEM_KIND_ENUM_MEMBER: LspCompletionItemKind
LSP_COMPLETION_ITEM_KIND_CONSTANT: LspCompletionItemKind
LSP_COMPLETION_ITEM_KIND_STRUCT: LspCompletionItemKind
LSP_COMPLETION_ITEM_KIND_EVENT: LspCompletionItemKind
LSP_COMPLETION_ITEM_KIND_OPERATOR: LspCompletionItemKind
LSP_COMPLETION_ITEM_KIND_TYPE_PARAMETER: LspCompletionItemKind
LSP_SYMBOL_KIND_UNSPECIFIED: LspSymbolKind
LSP_SYMBOL_KIND_FILE: LspSymbolKind
LSP_SYMBOL_KIND_MODULE: LspSymbolKind
LSP_SYMBOL_KIND_NAMESPACE: LspSymbolKind
LSP_SYMBOL_KIND_PACKAGE: LspSymbolKind
LSP_SYMBOL_KIND_CLASS: LspSymbolKind
LSP_SYMBOL_KIND_METHOD: LspSymbolKind
LSP_SYMBOL_KIND_PROPERTY: LspSymbolKind
LSP_SYMBOL_KIND_FIELD: LspSymbolKind
LSP_SYMBOL_KIND_CONSTRUCTOR: LspSymbolKind
LSP_SYMBOL_KIND_ENUM: LspSymbolKind
LSP_SYMBOL_KIND_INTERFACE: LspSymbolKind
LSP_SYMBOL_KIND_FUNCTION: LspSymbolKind
LSP_SYMBOL_KIND_VARIABLE: LspSymbolKind
LSP_SYMBOL_KIND_CONSTANT: LspSymbolKind
LSP_SYMBOL_KIND_STRING: LspSymbolKind
LSP_SYMBOL_KIND_NUMBER: LspSymbolKind
LSP_SYMBOL_KIND_BOOLEAN: LspSymbolKind
LSP_SYMBOL_KIND_ARRAY: LspSymbolKind
LSP_SYMBOL_KIND_OBJECT: LspSymbolKind
LSP_SYMBOL_KIND_KEY: LspSymbolKind
LSP_SYMBOL_KIND_NULL: LspSymbolKind
LSP_SYMBOL_KIND_ENUM_MEMBER: LspSymbolKind
LSP_SYMBOL_KIND_STRUCT: LspSymbolKind
LSP_SYMBOL_KIND_EVENT: LspSymbolKind
LSP_SYMBOL_KIND_OPERATOR: LspSymbolKind
LSP_SYMBOL_KIND_TYPE_PARAMETER: LspSymbolKind
LSP_DIAGNOSTIC_SEVERITY_UNSPECIFIED: LspDiagnosticSeverity
LSP_DIAGNOSTIC_SEVERITY_ERROR: LspDiagnosticSeverity
LSP_DIAGNOSTIC_SEVERITY_WARNING: LspDiagnosticSeverity
LSP_DIAGNOSTIC_SEVERITY_INFORMATION: LspDiagnosticSeverity
LSP_DIAGNOSTIC_SEVERITY_HINT: LspDiagnosticSeverity

class LspServer(_message.Message):
    __slots__ = ("server_id", "language_id", "root_path", "pid", "start_time")
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_ID_FIELD_NUMBER: _ClassVar[int]
    ROOT_PATH_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    server_id: str
    language_id: str
    root_path: str
    pid: int
    start_time: _timestamp_pb2.Timestamp
    def __init__(self, server_id: _Optional[str] = ..., language_id: _Optional[str] = ..., root_path: _Optional[str] = ..., pid: _Optional[int] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class LspPosition(_message.Message):
    __slots__ = ("line", "character")
    LINE_FIELD_NUMBER: _ClassVar[int]
    CHARACTER_FIELD_NUMBER: _ClassVar[int]
    line: int
    character: int
    def __init__(self, line: _Optional[int] = ..., character: _Optional[int] = ...) -> None: ...

class LspRange(_message.Message):
    __slots__ = ("start", "end")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    start: LspPosition
    end: LspPosition
    def __init__(self, start: _Optional[_Union[LspPosition, _Mapping]] = ..., end: _Optional[_Union[LspPosition, _Mapping]] = ...) -> None: ...

class LspCompletionItem(_message.Message):
    __slots__ = ("label", "kind", "detail", "documentation", "insert_text", "sort_text", "filter_text")
    LABEL_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    DOCUMENTATION_FIELD_NUMBER: _ClassVar[int]
    INSERT_TEXT_FIELD_NUMBER: _ClassVar[int]
    SORT_TEXT_FIELD_NUMBER: _ClassVar[int]
    FILTER_TEXT_FIELD_NUMBER: _ClassVar[int]
    label: str
    kind: LspCompletionItemKind
    detail: str
    documentation: str
    insert_text: str
    sort_text: str
    filter_text: str
    def __init__(self, label: _Optional[str] = ..., kind: _Optional[_Union[LspCompletionItemKind, str]] = ..., detail: _Optional[str] = ..., documentation: _Optional[str] = ..., insert_text: _Optional[str] = ..., sort_text: _Optional[str] = ..., filter_text: _Optional[str] = ...) -> None: ...

class LspSymbol(_message.Message):
    __slots__ = ("name", "kind", "path", "range", "container_name")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    RANGE_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: LspSymbolKind
    path: str
    range: LspRange
    container_name: str
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[_Union[LspSymbolKind, str]] = ..., path: _Optional[str] = ..., range: _Optional[_Union[LspRange, _Mapping]] = ..., container_name: _Optional[str] = ...) -> None: ...

class LspLocation(_message.Message):
    __slots__ = ("path", "range")
    PATH_FIELD_NUMBER: _ClassVar[int]
    RANGE_FIELD_NUMBER: _ClassVar[int]
    path: str
    range: LspRange
    def __init__(self, path: _Optional[str] = ..., range: _Optional[_Union[LspRange, _Mapping]] = ...) -> None: ...

class LspDiagnostic(_message.Message):
    __slots__ = ("range", "severity", "code", "source", "message")
    RANGE_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    range: LspRange
    severity: LspDiagnosticSeverity
    code: str
    source: str
    message: str
    def __init__(self, range: _Optional[_Union[LspRange, _Mapping]] = ..., severity: _Optional[_Union[LspDiagnosticSeverity, str]] = ..., code: _Optional[str] = ..., source: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...
