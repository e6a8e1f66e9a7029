// sandbox.lsp / createLspServer and sandbox.codeInterpreter's JavaScript, TypeScript and chart
// support against a real stack (server, runner, proxy, a base-image sandbox).
import { CoveConflictError, CoveNotFoundError, type NodeSandbox } from "../src/index.js";
import { describeWithDocker, type SdkHarness, startHarness } from "./harness.js";

const text = (s: string) => new TextEncoder().encode(s);

describeWithDocker("language servers and code interpreter languages", () => {
  let h: SdkHarness;
  let sandbox: NodeSandbox;
  beforeAll(async () => {
    h = await startHarness("sdk-lsp");
    sandbox = await h.cove.create({ labels: { suite: "lsp" } });
    await sandbox.fs.uploadFile(
      text("export function square(n: number): number {\n  return n * n;\n}\n"),
      "project/lib.ts",
    );
    await sandbox.fs.uploadFile(
      text('import { square } from "./lib";\n\nconst s: string = square(2);\nMath.\n'),
      "project/app.ts",
    );
  }, 900_000);
  afterAll(async () => {
    if (sandbox) await h.cove.delete(sandbox).catch(() => {});
    h?.cove.close();
    await h?.stack.stop();
  });

  test("createLspServer: start, didOpen, completions, hover, definition, symbols, diagnostics, stop", async () => {
    const lsp = sandbox.createLspServer("typescript", "project");
    await expect(lsp.didOpen("app.ts")).rejects.toBeInstanceOf(CoveConflictError);
    const info = await lsp.start();
    expect(info).toMatchObject({ languageId: "typescript", rootPath: "/home/cove/project" });
    expect(lsp.id).toMatch(/^lsp_/);
    expect((await sandbox.lsp.list()).map((s) => s.id)).toContain(lsp.id);

    await lsp.didOpen("app.ts");
    await lsp.didOpen("/home/cove/project/lib.ts");
    const completions = await lsp.completions("app.ts", { line: 3, character: 5 });
    expect(completions.items.map((i) => i.label)).toContain("floor");

    const hover = await lsp.hover("app.ts", { line: 2, character: 20 });
    expect(hover.contents).toContain("square(n: number): number");
    const definition = await lsp.definition("app.ts", { line: 2, character: 20 });
    expect(definition[0]?.path).toBe("/home/cove/project/lib.ts");

    const symbols = await lsp.documentSymbols("lib.ts");
    expect(symbols.map((s) => s.name)).toContain("square");
    expect(symbols[0]?.location.uri).toBe("file:///home/cove/project/lib.ts");
    const found = await lsp.sandboxSymbols("square");
    expect(found.map((s) => s.path)).toContain("/home/cove/project/lib.ts");

    const report = await lsp.diagnostics("app.ts");
    expect(report.current).toBe(true);
    expect(report.diagnostics).toContainEqual(
      expect.objectContaining({ severity: "error", code: "2322", source: "typescript" }),
    );
    await lsp.didChange(
      "app.ts",
      'import { square } from "./lib";\nconst n: number = square(2);\n',
    );
    const fixed = await lsp.diagnostics("app.ts");
    expect(fixed.diagnostics.filter((d) => d.severity === "error")).toEqual([]);

    const raw = (await lsp.sendMessage({
      jsonrpc: "2.0",
      id: 1,
      method: "textDocument/documentSymbol",
      params: { textDocument: { uri: "file:///home/cove/project/lib.ts" } },
    })) as { id: number; result: unknown[] };
    expect(raw.id).toBe(1);
    expect(raw.result.length).toBeGreaterThan(0);

    const again = await sandbox.lsp.get(lsp.id ?? "");
    expect(again.pathToProject).toBe("/home/cove/project");
    await lsp.didClose("app.ts");
    await lsp.stop();
    await expect(again.hover("lib.ts", { line: 0, character: 17 })).rejects.toBeInstanceOf(
      CoveNotFoundError,
    );
  }, 120_000);

  test("a python server on the sandbox's files", async () => {
    await sandbox.fs.uploadFile(
      text("def greet(name: str) -> str:\n    return 'hi ' + name\n\ngreet(\n"),
      "py/m.py",
    );
    const lsp = sandbox.createLspServer("python", "py");
    await lsp.start();
    try {
      await lsp.didOpen("m.py");
      const symbols = await lsp.documentSymbols("m.py");
      expect(symbols.map((s) => [s.name, s.kind])).toContainEqual(["greet", 12]);
      const hover = await lsp.hover("m.py", { line: 3, character: 1 });
      expect(hover.contents).toContain("greet");
    } finally {
      await lsp.stop();
    }
  }, 120_000);

  test("codeInterpreter: JavaScript and TypeScript contexts keep state; errors carry stacks", async () => {
    const ci = sandbox.codeInterpreter;
    const js = await ci.createContext({ language: "javascript" });
    expect(js.language).toBe("javascript");
    await ci.runCode("const base = 40;", { context: js });
    const run = await ci.runCode("console.log('hi'); base + 2", { context: js });
    expect(run).toMatchObject({ stdout: "hi\n", text: "42" });
    const html = await ci.runCode("display.html('<i>x</i>')", { context: js });
    expect(html.results[0]?.html).toBe("<i>x</i>");
    const json = await ci.runCode("({ ok: true })", { context: js });
    expect(json.results[0]?.json).toEqual({ ok: true });
    const failed = await ci.runCode("null.boom", { context: js });
    expect(failed.error?.name).toBe("TypeError");
    expect(failed.error?.traceback).toContain("<cell-");
    await ci.deleteContext(js);

    const ts = await ci.runCode("const n: number = await Promise.resolve(6);\nn * 7", {
      language: "typescript",
    });
    expect(ts.text).toBe("42");
  }, 120_000);

  test("codeInterpreter: a matplotlib chart arrives as a PNG with its data", async () => {
    const run = await sandbox.codeInterpreter.runCode(
      [
        "import matplotlib.pyplot as plt",
        "plt.bar(['a', 'b'], [2, 5], label='count')",
        "plt.title('Letters')",
        "plt.ylabel('n')",
        "plt.show()",
      ].join("\n"),
    );
    expect(run.error).toBeUndefined();
    const figure = run.results.find((r) => r.png !== undefined);
    expect(
      Buffer.from(figure?.png ?? [])
        .subarray(1, 4)
        .toString("latin1"),
    ).toBe("PNG");
    expect(figure?.chart).toMatchObject({
      type: "bar",
      title: "Letters",
      horizontal: false,
      yAxis: expect.objectContaining({ label: "n" }),
      series: [{ label: "count", x: [0, 1], xLabels: ["a", "b"], y: [2, 5] }],
    });
  }, 120_000);
});
