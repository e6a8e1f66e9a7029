package cove_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"cove.dev/sdk"
)

// TestLspServer: a TypeScript language server on files in the sandbox answers completions,
// hover, definition, symbols and diagnostics through Sandbox.CreateLspServer.
func TestLspServer(t *testing.T) {
	client := newClient(t, cove.Options{})
	sandbox := newSandbox(t, client)
	ctx := testContext(t)
	for path, text := range map[string]string{
		"proj/lib.ts": "export function square(n: number): number {\n  return n * n;\n}\n",
		"proj/app.ts": "import { square } from \"./lib\";\nconst s: string = square(2);\nMath.\n",
	} {
		if err := sandbox.WriteFile(ctx, path, strings.NewReader(text)); err != nil {
			t.Fatalf("WriteFile %s: %v", path, err)
		}
	}
	lsp := sandbox.CreateLspServer("typescript", "proj")
	if err := lsp.DidOpen(ctx, "app.ts", ""); !errors.Is(err, cove.ErrFailedPrecondition) {
		t.Fatalf("DidOpen before Start = %v, want ErrFailedPrecondition", err)
	}
	info, err := lsp.Start(ctx)
	if err != nil || info.RootPath != "/home/cove/proj" || !strings.HasPrefix(lsp.ID(), "lsp_") {
		t.Fatalf("Start = %+v, %v", info, err)
	}
	t.Cleanup(func() { _ = lsp.Stop(ctx) })
	for _, path := range []string{"app.ts", "lib.ts"} {
		if err := lsp.DidOpen(ctx, path, ""); err != nil {
			t.Fatalf("DidOpen %s: %v", path, err)
		}
	}
	list, err := lsp.Completions(ctx, "app.ts", cove.Position{Line: 2, Character: 5})
	if err != nil || !slices.ContainsFunc(list.Items, func(i cove.CompletionItem) bool { return i.Label == "floor" }) {
		t.Fatalf("Completions = %d items, %v", len(list.Items), err)
	}
	hover, err := lsp.Hover(ctx, "app.ts", cove.Position{Line: 1, Character: 20})
	if err != nil || !strings.Contains(hover.Contents, "square(n: number): number") {
		t.Fatalf("Hover = %+v, %v", hover, err)
	}
	defs, err := lsp.Definition(ctx, "app.ts", cove.Position{Line: 1, Character: 20})
	if err != nil || len(defs) != 1 || defs[0].Path != "/home/cove/proj/lib.ts" {
		t.Fatalf("Definition = %+v, %v", defs, err)
	}
	symbols, err := lsp.DocumentSymbols(ctx, "lib.ts")
	if err != nil || len(symbols) == 0 || symbols[0].Name != "square" || symbols[0].URI() != "file:///home/cove/proj/lib.ts" {
		t.Fatalf("DocumentSymbols = %+v, %v", symbols, err)
	}
	found, err := lsp.SandboxSymbols(ctx, "square")
	if err != nil || !slices.ContainsFunc(found, func(s cove.LspSymbol) bool { return s.Path == "/home/cove/proj/lib.ts" }) {
		t.Fatalf("SandboxSymbols = %+v, %v", found, err)
	}
	report, err := lsp.Diagnostics(ctx, "app.ts", 0)
	if err != nil || !report.Current || !slices.ContainsFunc(report.Diagnostics, func(d cove.LspDiagnostic) bool {
		return d.Severity == "error" && d.Code == "2322"
	}) {
		t.Fatalf("Diagnostics = %+v, %v", report, err)
	}
	raw, err := lsp.SendMessage(ctx, map[string]any{
		"jsonrpc": "2.0", "id": 3, "method": "textDocument/documentSymbol",
		"params": map[string]any{"textDocument": map[string]string{"uri": "file:///home/cove/proj/lib.ts"}},
	})
	var reply struct {
		ID     int               `json:"id"`
		Result []json.RawMessage `json:"result"`
	}
	if err != nil || json.Unmarshal(raw, &reply) != nil || reply.ID != 3 || len(reply.Result) == 0 {
		t.Fatalf("SendMessage = %s, %v", raw, err)
	}
	attached, err := sandbox.Lsp().Get(ctx, lsp.ID())
	if err != nil || attached.PathToProject != "/home/cove/proj" {
		t.Fatalf("Lsp().Get = %+v, %v", attached, err)
	}
	if err := lsp.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if _, err := attached.Hover(ctx, "lib.ts", cove.Position{}); !errors.Is(err, cove.ErrNotFound) {
		t.Errorf("Hover on a stopped server = %v, want ErrNotFound", err)
	}
}

// TestCodeInterpreterLanguagesAndCharts: JavaScript and TypeScript contexts keep state, and a
// matplotlib chart arrives as a PNG with its data.
func TestCodeInterpreterLanguagesAndCharts(t *testing.T) {
	client := newClient(t, cove.Options{})
	sandbox := newSandbox(t, client)
	ctx := testContext(t)
	ci := sandbox.CodeInterpreter()
	js, err := ci.CreateContext(ctx, cove.CreateContextOptions{Language: cove.JavaScript})
	if err != nil || js.Language != cove.JavaScript {
		t.Fatalf("CreateContext(JavaScript) = %+v, %v", js, err)
	}
	if _, err := ci.RunCode(ctx, "const base = 40;", cove.RunCodeOptions{ContextID: js.ID}); err != nil {
		t.Fatalf("RunCode: %v", err)
	}
	run, err := ci.RunCode(ctx, "console.log('hi'); base + 2", cove.RunCodeOptions{ContextID: js.ID})
	if err != nil || run.Text() != "42" || run.Stdout != "hi\n" {
		t.Fatalf("RunCode = %+v, %v", run, err)
	}
	ts, err := ci.RunCode(ctx, "const n: number = await Promise.resolve(21);\nn * 2", cove.RunCodeOptions{Language: cove.TypeScript})
	if err != nil || ts.Text() != "42" {
		t.Fatalf("RunCode(TypeScript) = %+v, %v", ts, err)
	}
	drawn, err := ci.RunCode(ctx, "import matplotlib.pyplot as plt\nplt.scatter([1, 2], [3, 5], label='pts')\nplt.title('Dots')", cove.RunCodeOptions{})
	if err != nil || drawn.Error != nil {
		t.Fatalf("RunCode(matplotlib) = %+v, %v", drawn, err)
	}
	i := slices.IndexFunc(drawn.Results, func(r cove.ExecutionResult) bool { return r.Chart != nil })
	if i < 0 {
		t.Fatalf("no chart among %+v", drawn.Results)
	}
	figure := drawn.Results[i]
	chart := figure.Chart
	if !strings.HasPrefix(string(figure.PNG()), "\x89PNG") || chart.Type != "scatter" || chart.Title != "Dots" ||
		len(chart.Series) != 1 || chart.Series[0].Label != "pts" || !slices.Equal(chart.Series[0].Y, []float64{3, 5}) {
		t.Fatalf("chart = %+v (png %d bytes)", chart, len(figure.PNG()))
	}
}
