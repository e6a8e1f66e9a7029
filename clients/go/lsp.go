package cove

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"time"

	"connectrpc.com/connect"
	toolboxv1 "cove.dev/gen/cove/toolbox/v1"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Lsp reaches the language servers of one sandbox (Sandbox.Lsp).
type Lsp struct {
	sandbox *Sandbox
}

// Lsp returns the sandbox's language servers.
func (s *Sandbox) Lsp() *Lsp { return &Lsp{sandbox: s} }

// CreateLspServer makes a language server ("python", "typescript" or "javascript") for a
// project in the sandbox (relative to the user's home, or absolute); call Start on it.
// Daytona's name for Lsp().CreateServer.
func (s *Sandbox) CreateLspServer(languageID, pathToProject string) *LspServer {
	return s.Lsp().CreateServer(languageID, pathToProject)
}

// CreateServer makes a language server for a project; call Start on it.
func (l *Lsp) CreateServer(languageID, pathToProject string) *LspServer {
	return &LspServer{sandbox: l.sandbox, LanguageID: languageID, PathToProject: pathToProject}
}

// LspServerInfo describes a running language server.
type LspServerInfo struct {
	// ID names the server ("lsp_…").
	ID string
	// LanguageID is its language.
	LanguageID string
	// RootPath is the absolute project root.
	RootPath string
	// PID is the language server's process id in the sandbox.
	PID int
	// StartTime is when it started.
	StartTime time.Time
}

func serverInfoOf(m *toolboxv1.LspServer) *LspServerInfo {
	return &LspServerInfo{
		ID: m.GetServerId(), LanguageID: m.GetLanguageId(), RootPath: m.GetRootPath(),
		PID: int(m.GetPid()), StartTime: m.GetStartTime().AsTime(),
	}
}

// List lists the running servers, oldest first.
func (l *Lsp) List(ctx context.Context) ([]*LspServerInfo, error) {
	c := l.sandbox.client
	res, err := unary(ctx, c, c.timeout, l.sandbox.lsp.ListLspServers, &toolboxv1.ListLspServersRequest{})
	if err != nil {
		return nil, err
	}
	out := make([]*LspServerInfo, 0, len(res.GetServers()))
	for _, m := range res.GetServers() {
		out = append(out, serverInfoOf(m))
	}
	return out, nil
}

// Get attaches to a running server by id; ErrNotFound when there is none.
func (l *Lsp) Get(ctx context.Context, serverID string) (*LspServer, error) {
	all, err := l.List(ctx)
	if err != nil {
		return nil, err
	}
	for _, info := range all {
		if info.ID == serverID {
			return &LspServer{sandbox: l.sandbox, LanguageID: info.LanguageID, PathToProject: info.RootPath, id: info.ID}, nil
		}
	}
	e := localError(connect.CodeNotFound, "no language server %q", serverID)
	e.Reason = "LSP_SERVER_NOT_FOUND"
	return nil, e
}

// LspServer is one language server for a project (Daytona's LspServer): Start it, open
// documents, ask it questions, Stop it. Positions are zero-based lines and UTF-16
// characters, as in LSP; relative document paths resolve against the project root.
type LspServer struct {
	// LanguageID is the server's language.
	LanguageID string
	// PathToProject is the project root (relative to the user's home, or absolute).
	PathToProject string

	sandbox *Sandbox
	id      string
}

// ID is the server's id once started, else "".
func (s *LspServer) ID() string { return s.id }

func (s *LspServer) sid() (string, error) {
	if s.id == "" {
		e := localError(connect.CodeFailedPrecondition, "the language server is not started: call Start first")
		e.Reason = "LSP_SERVER_NOT_FOUND"
		return "", e
	}
	return s.id, nil
}

// Position is a position in a document: zero-based line and character (UTF-16 code units).
type Position struct {
	// Line is zero-based.
	Line int
	// Character is the zero-based offset in the line.
	Character int
}

// Range is a range in a document, end exclusive.
type Range struct {
	// Start is the first position.
	Start Position
	// End is the position just after the range.
	End Position
}

func rangeOf(m *toolboxv1.LspRange) Range {
	return Range{
		Start: Position{int(m.GetStart().GetLine()), int(m.GetStart().GetCharacter())},
		End:   Position{int(m.GetEnd().GetLine()), int(m.GetEnd().GetCharacter())},
	}
}

func (p Position) proto() *toolboxv1.LspPosition {
	return &toolboxv1.LspPosition{Line: uint32(max(p.Line, 0)), Character: uint32(max(p.Character, 0))}
}

// CompletionItem is one completion proposal; Kind is LSP's CompletionItemKind (0 for none).
type CompletionItem struct {
	Label, Detail, Documentation, InsertText, SortText, FilterText string
	Kind                                                           int
}

// CompletionList is what Completions returns (Daytona's CompletionList).
type CompletionList struct {
	// IsIncomplete is true when typing more should ask again.
	IsIncomplete bool
	// Items are the proposals in the server's order (at most 1000).
	Items []CompletionItem
}

// LspSymbol is a symbol of a document or the project; Kind is LSP's SymbolKind.
type LspSymbol struct {
	// Name is the symbol's name.
	Name string
	// Kind is LSP's SymbolKind (e.g. 5 class, 6 method, 12 function), 0 for none.
	Kind int
	// Path is the absolute path of the file that defines it.
	Path string
	// Range is its extent.
	Range Range
	// ContainerName is the enclosing symbol's name, or "".
	ContainerName string
}

// URI is the symbol's file as a file: URI (Daytona's location.uri).
func (s LspSymbol) URI() string {
	if !strings.HasPrefix(s.Path, "/") {
		return s.Path
	}
	return (&url.URL{Scheme: "file", Path: s.Path}).String()
}

func symbolsOf(list []*toolboxv1.LspSymbol) []LspSymbol {
	out := make([]LspSymbol, 0, len(list))
	for _, m := range list {
		out = append(out, LspSymbol{Name: m.GetName(), Kind: int(m.GetKind()), Path: m.GetPath(), Range: rangeOf(m.GetRange()), ContainerName: m.GetContainerName()})
	}
	return out
}

// LspLocation is a place in a file (the server's URI when it is not a file).
type LspLocation struct {
	Path  string
	Range Range
}

// HoverInfo is what Hover says: Markdown unless Markdown is false; "" for nothing.
type HoverInfo struct {
	Contents string
	Markdown bool
	// Range is the described symbol's extent, or nil.
	Range *Range
}

// LspDiagnostic is one problem; Severity is "error", "warning", "information", "hint" or "".
type LspDiagnostic struct {
	Range                           Range
	Severity, Code, Source, Message string
}

// Diagnostics is what Diagnostics returns; Current is false when the wait ran out first.
type Diagnostics struct {
	Diagnostics []LspDiagnostic
	Current     bool
}

var severities = map[toolboxv1.LspDiagnosticSeverity]string{
	toolboxv1.LspDiagnosticSeverity_LSP_DIAGNOSTIC_SEVERITY_ERROR:       "error",
	toolboxv1.LspDiagnosticSeverity_LSP_DIAGNOSTIC_SEVERITY_WARNING:     "warning",
	toolboxv1.LspDiagnosticSeverity_LSP_DIAGNOSTIC_SEVERITY_INFORMATION: "information",
	toolboxv1.LspDiagnosticSeverity_LSP_DIAGNOSTIC_SEVERITY_HINT:        "hint",
}

// Start starts the server and completes the LSP handshake; a started server is left as it is.
func (s *LspServer) Start(ctx context.Context) (*LspServerInfo, error) {
	if s.id != "" {
		all, err := s.sandbox.Lsp().List(ctx)
		if err != nil {
			return nil, err
		}
		for _, info := range all {
			if info.ID == s.id {
				return info, nil
			}
		}
	}
	c := s.sandbox.client
	res, err := once(ctx, c, c.timeout, s.sandbox.lsp.StartLspServer, &toolboxv1.StartLspServerRequest{
		LanguageId: s.LanguageID, RootPath: s.PathToProject,
	})
	if err != nil {
		return nil, err
	}
	info := serverInfoOf(res.GetServer())
	s.id = info.ID
	return info, nil
}

// Stop shuts the server down.
func (s *LspServer) Stop(ctx context.Context) error {
	id, err := s.sid()
	if err != nil {
		return err
	}
	c := s.sandbox.client
	if _, err := once(ctx, c, c.timeout, s.sandbox.lsp.StopLspServer, &toolboxv1.StopLspServerRequest{ServerId: id}); err != nil {
		return err
	}
	s.id = ""
	return nil
}

// DidOpen opens a document with text; empty text makes the sandbox read the file.
func (s *LspServer) DidOpen(ctx context.Context, path, text string) error {
	id, err := s.sid()
	if err != nil {
		return err
	}
	c := s.sandbox.client
	_, err = unary(ctx, c, c.timeout, s.sandbox.lsp.DidOpen, &toolboxv1.DidOpenRequest{ServerId: id, Path: path, Text: text})
	return err
}

// DidChange replaces an open document's text.
func (s *LspServer) DidChange(ctx context.Context, path, text string) error {
	id, err := s.sid()
	if err != nil {
		return err
	}
	c := s.sandbox.client
	_, err = once(ctx, c, c.timeout, s.sandbox.lsp.DidChange, &toolboxv1.DidChangeRequest{ServerId: id, Path: path, Text: text})
	return err
}

// DidClose closes a document.
func (s *LspServer) DidClose(ctx context.Context, path string) error {
	id, err := s.sid()
	if err != nil {
		return err
	}
	c := s.sandbox.client
	_, err = unary(ctx, c, c.timeout, s.sandbox.lsp.DidClose, &toolboxv1.DidCloseRequest{ServerId: id, Path: path})
	return err
}

// Completions asks for completions at a position of an open document.
func (s *LspServer) Completions(ctx context.Context, path string, at Position) (*CompletionList, error) {
	id, err := s.sid()
	if err != nil {
		return nil, err
	}
	c := s.sandbox.client
	res, err := unary(ctx, c, c.timeout, s.sandbox.lsp.Completions, &toolboxv1.CompletionsRequest{ServerId: id, Path: path, Position: at.proto()})
	if err != nil {
		return nil, err
	}
	out := &CompletionList{IsIncomplete: res.GetIsIncomplete(), Items: make([]CompletionItem, 0, len(res.GetItems()))}
	for _, i := range res.GetItems() {
		out.Items = append(out.Items, CompletionItem{
			Label: i.GetLabel(), Kind: int(i.GetKind()), Detail: i.GetDetail(), Documentation: i.GetDocumentation(),
			InsertText: i.GetInsertText(), SortText: i.GetSortText(), FilterText: i.GetFilterText(),
		})
	}
	return out, nil
}

// Hover describes the symbol at a position.
func (s *LspServer) Hover(ctx context.Context, path string, at Position) (*HoverInfo, error) {
	id, err := s.sid()
	if err != nil {
		return nil, err
	}
	c := s.sandbox.client
	res, err := unary(ctx, c, c.timeout, s.sandbox.lsp.Hover, &toolboxv1.HoverRequest{ServerId: id, Path: path, Position: at.proto()})
	if err != nil {
		return nil, err
	}
	out := &HoverInfo{Contents: res.GetContents(), Markdown: res.GetMarkdown()}
	if res.GetRange() != nil {
		r := rangeOf(res.GetRange())
		out.Range = &r
	}
	return out, nil
}

// Definition finds where the symbol at a position is defined.
func (s *LspServer) Definition(ctx context.Context, path string, at Position) ([]LspLocation, error) {
	id, err := s.sid()
	if err != nil {
		return nil, err
	}
	c := s.sandbox.client
	res, err := unary(ctx, c, c.timeout, s.sandbox.lsp.Definition, &toolboxv1.DefinitionRequest{ServerId: id, Path: path, Position: at.proto()})
	if err != nil {
		return nil, err
	}
	out := make([]LspLocation, 0, len(res.GetLocations()))
	for _, l := range res.GetLocations() {
		out = append(out, LspLocation{Path: l.GetPath(), Range: rangeOf(l.GetRange())})
	}
	return out, nil
}

// DocumentSymbols lists a document's symbols (nested ones name their container).
func (s *LspServer) DocumentSymbols(ctx context.Context, path string) ([]LspSymbol, error) {
	id, err := s.sid()
	if err != nil {
		return nil, err
	}
	c := s.sandbox.client
	res, err := unary(ctx, c, c.timeout, s.sandbox.lsp.DocumentSymbols, &toolboxv1.DocumentSymbolsRequest{ServerId: id, Path: path})
	if err != nil {
		return nil, err
	}
	return symbolsOf(res.GetSymbols()), nil
}

// SandboxSymbols searches the project's symbols by (fuzzy) name (Daytona's name).
func (s *LspServer) SandboxSymbols(ctx context.Context, query string) ([]LspSymbol, error) {
	id, err := s.sid()
	if err != nil {
		return nil, err
	}
	c := s.sandbox.client
	res, err := unary(ctx, c, c.timeout, s.sandbox.lsp.WorkspaceSymbols, &toolboxv1.WorkspaceSymbolsRequest{ServerId: id, Query: query})
	if err != nil {
		return nil, err
	}
	return symbolsOf(res.GetSymbols()), nil
}

// WorkspaceSymbols is SandboxSymbols under LSP's name.
func (s *LspServer) WorkspaceSymbols(ctx context.Context, query string) ([]LspSymbol, error) {
	return s.SandboxSymbols(ctx, query)
}

// Diagnostics returns the problems reported for an open document, waiting up to wait
// (zero or less: the default, 10 s; at most 60 s) for a report on its current text.
func (s *LspServer) Diagnostics(ctx context.Context, path string, wait time.Duration) (*Diagnostics, error) {
	id, err := s.sid()
	if err != nil {
		return nil, err
	}
	req := &toolboxv1.DiagnosticsRequest{ServerId: id, Path: path}
	limit := 10 * time.Second
	if wait > 0 {
		req.Wait = durationpb.New(wait)
		limit = wait
	}
	c := s.sandbox.client
	res, err := unary(ctx, c, limit+c.timeout, s.sandbox.lsp.Diagnostics, req)
	if err != nil {
		return nil, err
	}
	out := &Diagnostics{Current: res.GetCurrent(), Diagnostics: make([]LspDiagnostic, 0, len(res.GetDiagnostics()))}
	for _, d := range res.GetDiagnostics() {
		out.Diagnostics = append(out.Diagnostics, LspDiagnostic{
			Range: rangeOf(d.GetRange()), Severity: severities[d.GetSeverity()], Code: d.GetCode(),
			Source: d.GetSource(), Message: d.GetMessage(),
		})
	}
	return out, nil
}

// SendMessage sends one raw JSON-RPC message (marshalled with encoding/json); for a request
// (with an id) it returns the server's response, otherwise nil.
func (s *LspServer) SendMessage(ctx context.Context, message any) (json.RawMessage, error) {
	id, err := s.sid()
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(message)
	if err != nil {
		return nil, localError(connect.CodeInvalidArgument, "the message is not JSON: %v", err)
	}
	c := s.sandbox.client
	res, err := once(ctx, c, c.timeout, s.sandbox.lsp.SendLspMessage, &toolboxv1.SendLspMessageRequest{ServerId: id, Json: string(body)})
	if err != nil {
		return nil, err
	}
	if res.GetResponseJson() == "" {
		return nil, nil
	}
	return json.RawMessage(res.GetResponseJson()), nil
}
