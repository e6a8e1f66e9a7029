"""sandbox.lsp and sandbox.create_lsp_server: language servers in the sandbox, in Daytona's shape.

    lsp = sandbox.create_lsp_server("python", "project")
    lsp.start()
    lsp.did_open("main.py")
    lsp.completions("main.py", (4, 2))     # or Position(4, 2), {"line": 4, "character": 2}
    lsp.stop()

Positions are zero-based lines and UTF-16 characters, as in LSP; relative document paths resolve
against the project root, and the project path against the user's home.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Optional

import grpc
from cove.toolbox.v1 import lsp_service_pb2 as pb
from cove.toolbox.v1 import lsp_service_pb2_grpc

from . import _lsp
from ._lsp import PositionLike
from .errors import CoveNotFoundError
from .models import CompletionList, Diagnostics, HoverInfo, LspLocation, LspServerInfo, LspSymbol

if TYPE_CHECKING:
    from ._rpc import SyncRpc


class LspServer:
    """One language server for a project (Daytona's LspServer): start() it, open documents, ask."""

    def __init__(self, lsp: Lsp, language_id: str, path_to_project: str, server_id: Optional[str] = None) -> None:
        self._lsp = lsp
        #: The server's language: "python", "typescript" or "javascript".
        self.language_id = language_id
        #: The project root (relative to the user's home, or absolute).
        self.path_to_project = path_to_project
        self._id = server_id

    @property
    def id(self) -> Optional[str]:
        """The server's id once started ("lsp_..."), else None."""
        return self._id

    def _sid(self) -> str:
        if self._id is None:
            raise _lsp.not_started()
        return self._id

    def _unary(self, name: str, request: Any, *, idempotent: bool = True) -> Any:
        return self._lsp._unary(name, request, idempotent=idempotent)

    def start(self) -> LspServerInfo:
        """Starts the server and completes the LSP handshake; a started server is left as it is."""
        if self._id is not None:
            for info in self._lsp.list():
                if info.id == self._id:
                    return info
        request = pb.StartLspServerRequest(language_id=self.language_id, root_path=self.path_to_project)
        info = _lsp.server_info(self._unary("StartLspServer", request, idempotent=False).server)
        self._id = info.id
        return info

    def stop(self) -> None:
        """Shuts the server down."""
        self._unary("StopLspServer", pb.StopLspServerRequest(server_id=self._sid()), idempotent=False)
        self._id = None

    def did_open(self, path: str, text: Optional[str] = None, language_id: Optional[str] = None) -> None:
        """Opens a document; without text the sandbox reads the file."""
        request = pb.DidOpenRequest(server_id=self._sid(), path=path, text=text or "", language_id=language_id or "")
        self._unary("DidOpen", request)

    def did_change(self, path: str, text: str) -> None:
        """Replaces an open document's text."""
        self._unary("DidChange", pb.DidChangeRequest(server_id=self._sid(), path=path, text=text), idempotent=False)

    def did_close(self, path: str) -> None:
        """Closes a document."""
        self._unary("DidClose", pb.DidCloseRequest(server_id=self._sid(), path=path))

    def completions(self, path: str, position: PositionLike) -> CompletionList:
        """Completions at a position of an open document."""
        request = pb.CompletionsRequest(server_id=self._sid(), path=path, position=_lsp.position(position))
        return _lsp.completions(self._unary("Completions", request))

    def hover(self, path: str, position: PositionLike) -> HoverInfo:
        """What the symbol at a position is (signature, documentation)."""
        request = pb.HoverRequest(server_id=self._sid(), path=path, position=_lsp.position(position))
        return _lsp.hover(self._unary("Hover", request))

    def definition(self, path: str, position: PositionLike) -> list[LspLocation]:
        """Where the symbol at a position is defined."""
        request = pb.DefinitionRequest(server_id=self._sid(), path=path, position=_lsp.position(position))
        return _lsp.locations(self._unary("Definition", request))

    def document_symbols(self, path: str) -> list[LspSymbol]:
        """A document's symbols (nested ones name their container)."""
        request = pb.DocumentSymbolsRequest(server_id=self._sid(), path=path)
        return [_lsp.symbol(s) for s in self._unary("DocumentSymbols", request).symbols]

    def sandbox_symbols(self, query: str) -> list[LspSymbol]:
        """Searches the project's symbols by (fuzzy) name (Daytona's name)."""
        request = pb.WorkspaceSymbolsRequest(server_id=self._sid(), query=query)
        return [_lsp.symbol(s) for s in self._unary("WorkspaceSymbols", request).symbols]

    def workspace_symbols(self, query: str) -> list[LspSymbol]:
        """sandbox_symbols under LSP's name."""
        return self.sandbox_symbols(query)

    def diagnostics(self, path: str, wait: Optional[float] = None) -> Diagnostics:
        """The problems reported for an open document, waiting (default 10 s, at most 60) for a
        report on its current text."""
        deadline = None if wait is None else wait + 30.0
        request = _lsp.diagnostics_request(self._sid(), path, wait)
        return _lsp.diagnostics(self._lsp._unary("Diagnostics", request, idempotent=True, timeout=deadline))

    def send_message(self, message: dict[str, Any]) -> Any:
        """Sends one raw JSON-RPC message; a request (with an id) returns the server's response."""
        request = pb.SendLspMessageRequest(server_id=self._sid(), json=json.dumps(message))
        return _lsp.response_of(self._unary("SendLspMessage", request, idempotent=False).response_json)


class Lsp:
    """The language servers of one sandbox (``sandbox.lsp``)."""

    def __init__(self, rpc: SyncRpc, channel: grpc.Channel, metadata: Any) -> None:
        self._rpc = rpc
        self._stub = lsp_service_pb2_grpc.LspServiceStub(channel)
        self._metadata = metadata

    def _unary(self, name: str, request: Any, *, idempotent: bool, timeout: Optional[float] = None) -> Any:
        kwargs = {} if timeout is None else {"timeout": timeout}
        return self._rpc.unary(getattr(self._stub, name), request, self._metadata, idempotent=idempotent, **kwargs)

    def create_server(self, language_id: str, path_to_project: str) -> LspServer:
        """A server for a project ("python", "typescript" or "javascript"); call start() on it."""
        return LspServer(self, language_id, path_to_project)

    def list(self) -> list[LspServerInfo]:
        """The running servers, oldest first."""
        return [_lsp.server_info(s) for s in self._unary("ListLspServers", pb.ListLspServersRequest(), idempotent=True).servers]

    def get(self, server_id: str) -> LspServer:
        """Attaches to a running server by id."""
        for info in self.list():
            if info.id == server_id:
                return LspServer(self, info.language_id, info.root_path, info.id)
        raise CoveNotFoundError(f'no language server "{server_id}"', reason="LSP_SERVER_NOT_FOUND")
