import datetime

from cove.toolbox.v1 import keepalive_pb2 as _keepalive_pb2
from cove.toolbox.v1 import lsp_pb2 as _lsp_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class StartLspServerRequest(_message.Message):
    __slots__ = ("language_id", "root_path")
    LANGUAGE_ID_FIELD_NUMBER: _ClassVar[int]
    ROOT_PATH_FIELD_NUMBER: _ClassVar[int]
    language_id: str
    root_path: str
    def __init__(self, language_id: _Optional[str] = ..., root_path: _Optional[str] = ...) -> None: ...

class StartLspServerResponse(_message.Message):
    __slots__ = ("server",)
    SERVER_FIELD_NUMBER: _ClassVar[int]
    server: _lsp_pb2.LspServer
    def __init__(self, server: _Optional[_Union[_lsp_pb2.LspServer, _Mapping]] = ...) -> None: ...

class StopLspServerRequest(_message.Message):
    __slots__ = ("server_id",)
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    server_id: str
    def __init__(self, server_id: _Optional[str] = ...) -> None: ...

class StopLspServerResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListLspServersRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListLspServersResponse(_message.Message):
    __slots__ = ("servers",)
    SERVERS_FIELD_NUMBER: _ClassVar[int]
    servers: _containers.RepeatedCompositeFieldContainer[_lsp_pb2.LspServer]
    def __init__(self, servers: _Optional[_Iterable[_Union[_lsp_pb2.LspServer, _Mapping]]] = ...) -> None: ...

class DidOpenRequest(_message.Message):
    __slots__ = ("server_id", "path", "text", "language_id")
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_ID_FIELD_NUMBER: _ClassVar[int]
    server_id: str
    path: str
    text: str
    language_id: str
    def __init__(self, server_id: _Optional[str] = ..., path: _Optional[str] = ..., text: _Optional[str] = ..., language_id: _Optional[str] = ...) -> None: ...

class DidOpenResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DidChangeRequest(_message.Message):
    __slots__ = ("server_id", "path", "text")
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    server_id: str
    path: str
    text: str
    def __init__(self, server_id: _Optional[str] = ..., path: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class DidChangeResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DidCloseRequest(_message.Message):
    __slots__ = ("server_id", "path")
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    server_id: str
    path: str
    def __init__(self, server_id: _Optional[str] = ..., path: _Optional[str] = ...) -> None: ...

class DidCloseResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CompletionsRequest(_message.Message):
    __slots__ = ("server_id", "path", "position")
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    server_id: str
    path: str
    position: _lsp_pb2.LspPosition
    def __init__(self, server_id: _Optional[str] = ..., path: _Optional[str] = ..., position: _Optional[_Union[_lsp_pb2.LspPosition, _Mapping]] = ...) -> None: ...

class CompletionsResponse(_message.Message):
    __slots__ = ("items", "is_incomplete")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    IS_INCOMPLETE_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[_lsp_pb2.LspCompletionItem]
    is_incomplete: bool
    def __init__(self, items: _Optional[_Iterable[_Union[_lsp_pb2.LspCompletionItem, _Mapping]]] = ..., is_incomplete: bool = ...) -> None: ...

class HoverRequest(_message.Message):
    __slots__ = ("server_id", "path", "position")
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    server_id: str
    path: str
    position: _lsp_pb2.LspPosition
    def __init__(self, server_id: _Optional[str] = ..., path: _Optional[str] = ..., position: _Optional[_Union[_lsp_pb2.LspPosition, _Mapping]] = ...) -> None: ...

class HoverResponse(_message.Message):
    __slots__ = ("contents", "markdown", "range")
    CONTENTS_FIELD_NUMBER: _ClassVar[int]
    MARKDOWN_FIELD_NUMBER: _ClassVar[int]
    RANGE_FIELD_NUMBER: _ClassVar[int]
    contents: str
    markdown: bool
    range: _lsp_pb2.LspRange
    def __init__(self, contents: _Optional[str] = ..., markdown: bool = ..., range: _Optional[_Union[_lsp_pb2.LspRange, _Mapping]] = ...) -> None: ...

class DefinitionRequest(_message.Message):
    __slots__ = ("server_id", "path", "position")
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    server_id: str
    path: str
    position: _lsp_pb2.LspPosition
    def __init__(self, server_id: _Optional[str] = ..., path: _Optional[str] = ..., position: _Optional[_Union[_lsp_pb2.LspPosition, _Mapping]] = ...) -> None: ...

class DefinitionResponse(_message.Message):
    __slots__ = ("locations",)
    LOCATIONS_FIELD_NUMBER: _ClassVar[int]
    locations: _containers.RepeatedCompositeFieldContainer[_lsp_pb2.LspLocation]
    def __init__(self, locations: _Optional[_Iterable[_Union[_lsp_pb2.LspLocation, _Mapping]]] = ...) -> None: ...

class DiagnosticsRequest(_message.Message):
    __slots__ = ("server_id", "path", "wait")
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    WAIT_FIELD_NUMBER: _ClassVar[int]
    server_id: str
    path: str
    wait: _duration_pb2.Duration
    def __init__(self, server_id: _Optional[str] = ..., path: _Optional[str] = ..., wait: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class DiagnosticsResponse(_message.Message):
    __slots__ = ("diagnostics", "current")
    DIAGNOSTICS_FIELD_NUMBER: _ClassVar[int]
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    diagnostics: _containers.RepeatedCompositeFieldContainer[_lsp_pb2.LspDiagnostic]
    current: bool
    def __init__(self, diagnostics: _Optional[_Iterable[_Union[_lsp_pb2.LspDiagnostic, _Mapping]]] = ..., current: bool = ...) -> None: ...

class DocumentSymbolsRequest(_message.Message):
    __slots__ = ("server_id", "path")
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    server_id: str
    path: str
    def __init__(self, server_id: _Optional[str] = ..., path: _Optional[str] = ...) -> None: ...

class DocumentSymbolsResponse(_message.Message):
    __slots__ = ("symbols",)
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    symbols: _containers.RepeatedCompositeFieldContainer[_lsp_pb2.LspSymbol]
    def __init__(self, symbols: _Optional[_Iterable[_Union[_lsp_pb2.LspSymbol, _Mapping]]] = ...) -> None: ...

class WorkspaceSymbolsRequest(_message.Message):
    __slots__ = ("server_id", "query")
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    server_id: str
    query: str
    def __init__(self, server_id: _Optional[str] = ..., query: _Optional[str] = ...) -> None: ...

class WorkspaceSymbolsResponse(_message.Message):
    __slots__ = ("symbols",)
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    symbols: _containers.RepeatedCompositeFieldContainer[_lsp_pb2.LspSymbol]
    def __init__(self, symbols: _Optional[_Iterable[_Union[_lsp_pb2.LspSymbol, _Mapping]]] = ...) -> None: ...

class SendLspMessageRequest(_message.Message):
    __slots__ = ("server_id", "json")
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    JSON_FIELD_NUMBER: _ClassVar[int]
    server_id: str
    json: str
    def __init__(self, server_id: _Optional[str] = ..., json: _Optional[str] = ...) -> None: ...

class SendLspMessageResponse(_message.Message):
    __slots__ = ("response_json",)
    RESPONSE_JSON_FIELD_NUMBER: _ClassVar[int]
    response_json: str
    def __init__(self, response_json: _Optional[str] = ...) -> None: ...

class WatchLspMessagesRequest(_message.Message):
    __slots__ = ("server_id",)
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    server_id: str
    def __init__(self, server_id: _Optional[str] = ...) -> None: ...

class WatchLspMessagesResponse(_message.Message):
    __slots__ = ("json", "keepalive")
    JSON_FIELD_NUMBER: _ClassVar[int]
    KEEPALIVE_FIELD_NUMBER: _ClassVar[int]
    json: str
    keepalive: _keepalive_pb2.Keepalive
    def __init__(self, json: _Optional[str] = ..., keepalive: _Optional[_Union[_keepalive_pb2.Keepalive, _Mapping]] = ...) -> None: ...
