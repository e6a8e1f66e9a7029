"""Pieces of sandbox.lsp shared by the sync and asyncio clients: positions, requests and the
conversion of LspService answers to the SDK's plain types."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Optional, Union

from cove.toolbox.v1 import lsp_pb2
from cove.toolbox.v1 import lsp_service_pb2 as pb

from . import _convert as cv
from .errors import CoveConflictError
from .models import (
    CompletionItem,
    CompletionList,
    Diagnostics,
    HoverInfo,
    LspDiagnostic,
    LspLocation,
    LspServerInfo,
    LspSymbol,
    Position,
    Range,
)

#: A position as a Position, a (line, character) pair or {"line": ..., "character": ...}.
PositionLike = Union[Position, Sequence[int], Mapping[str, int]]

_SEVERITIES = {1: "error", 2: "warning", 3: "information", 4: "hint"}


def position(value: PositionLike) -> lsp_pb2.LspPosition:
    """Builds LspPosition from any PositionLike."""
    if isinstance(value, Position):
        return lsp_pb2.LspPosition(line=value.line, character=value.character)
    if isinstance(value, Mapping):
        return lsp_pb2.LspPosition(line=int(value["line"]), character=int(value["character"]))
    line, character = value
    return lsp_pb2.LspPosition(line=int(line), character=int(character))


def range_of(m: lsp_pb2.LspRange) -> Range:
    """Converts LspRange."""
    return Range(Position(m.start.line, m.start.character), Position(m.end.line, m.end.character))


def server_info(m: lsp_pb2.LspServer) -> LspServerInfo:
    """Converts LspServer."""
    return LspServerInfo(
        id=m.server_id,
        language_id=m.language_id,
        root_path=m.root_path,
        pid=m.pid,
        started_at=cv.time_of(m, "start_time"),
    )


def symbol(m: lsp_pb2.LspSymbol) -> LspSymbol:
    """Converts LspSymbol."""
    return LspSymbol(name=m.name, kind=m.kind, path=m.path, range=range_of(m.range), container_name=m.container_name)


def completions(m: pb.CompletionsResponse) -> CompletionList:
    """Converts CompletionsResponse."""
    return CompletionList(
        is_incomplete=m.is_incomplete,
        items=[
            CompletionItem(
                label=i.label,
                kind=i.kind,
                detail=i.detail,
                documentation=i.documentation,
                insert_text=i.insert_text,
                sort_text=i.sort_text,
                filter_text=i.filter_text,
            )
            for i in m.items
        ],
    )


def hover(m: pb.HoverResponse) -> HoverInfo:
    """Converts HoverResponse."""
    return HoverInfo(
        contents=m.contents, markdown=m.markdown, range=range_of(m.range) if m.HasField("range") else None
    )


def locations(m: pb.DefinitionResponse) -> list[LspLocation]:
    """Converts DefinitionResponse."""
    return [LspLocation(path=loc.path, range=range_of(loc.range)) for loc in m.locations]


def diagnostics(m: pb.DiagnosticsResponse) -> Diagnostics:
    """Converts DiagnosticsResponse."""
    return Diagnostics(
        diagnostics=[
            LspDiagnostic(
                range=range_of(d.range),
                severity=_SEVERITIES.get(d.severity, ""),
                code=d.code,
                source=d.source,
                message=d.message,
            )
            for d in m.diagnostics
        ],
        current=m.current,
    )


def diagnostics_request(server_id: str, path: str, wait: Optional[float]) -> pb.DiagnosticsRequest:
    """Builds DiagnosticsRequest; wait (s) None means the daemon's default (10 s)."""
    request = pb.DiagnosticsRequest(server_id=server_id, path=path)
    if wait is not None:
        request.wait.CopyFrom(cv.duration(wait))
    return request


def response_of(raw: str) -> Any:
    """Parses SendLspMessage's response (None for a notification)."""
    return json.loads(raw) if raw else None


def not_started() -> CoveConflictError:
    """The error of a call on a server that was never started (or was stopped)."""
    return CoveConflictError("the language server is not started: call start() first", reason="LSP_SERVER_NOT_FOUND")
