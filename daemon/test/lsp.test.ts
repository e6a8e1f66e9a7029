// LspService in a real sandbox: the daemon from the kit in a base-image container starts
// pyright and typescript-language-server as the sandbox user on real project files, and the
// typed RPCs (completions, hover, definition, symbols, diagnostics) answer from them.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import { LspDiagnosticSeverity, LspSymbolKind } from "@cove/gen-ts/cove/toolbox/v1/lsp_pb.js";
import { LspService } from "@cove/gen-ts/cove/toolbox/v1/lsp_service_pb.js";
import { startTestDaemon } from "./harness.js";
import {
  dockerDescribe,
  type SandboxContainer,
  startSandboxContainer,
} from "./sandbox-container.js";

/** reasonOf returns the raw google.rpc.ErrorInfo details of an error as text. */
const reasonOf = (err: unknown) =>
  err instanceof ConnectError
    ? err.details
        .map((d) => ("value" in d ? Buffer.from(d.value as Uint8Array).toString("latin1") : ""))
        .join(" ")
    : "";

async function failure(call: Promise<unknown>): Promise<ConnectError> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConnectError);
  return err as ConnectError;
}

const PY_CALC = [
  "def add(a: int, b: int) -> int:",
  '    """Add two numbers."""',
  "    return a + b",
  "",
  "",
  "class Greeter:",
  "    def greet(self, name: str) -> str:",
  '        return "hi " + name',
  "",
].join("\n");

const PY_MAIN = [
  "from calc import add, Greeter",
  "",
  "total = add(1, 2)",
  "g = Greeter()",
  "g.",
  "",
].join("\n");

const TS_LIB = [
  "export function square(n: number): number {",
  "  return n * n;",
  "}",
  "",
  "export interface Shape {",
  "  area(): number;",
  "}",
  "",
].join("\n");

const TS_APP = [
  'import { square } from "./lib";',
  "",
  "const s: string = square(2);",
  "Math.",
  "",
].join("\n");

dockerDescribe("LspService")("LspService in a base-image sandbox", () => {
  let sandbox: SandboxContainer;
  let lsp: Client<typeof LspService>;

  beforeAll(async () => {
    sandbox = await startSandboxContainer();
    lsp = sandbox.client(LspService);
    await sandbox.sh("mkdir -p ~/py ~/ts ~/js && echo '{}' > ~/ts/tsconfig.json && touch ~/plain");
    await sandbox.sh("cat > ~/py/calc.py", PY_CALC);
    await sandbox.sh("cat > ~/py/main.py", PY_MAIN);
    await sandbox.sh("cat > ~/ts/lib.ts", TS_LIB);
    await sandbox.sh("cat > ~/ts/app.ts", TS_APP);
  }, 300_000);

  afterAll(() => sandbox?.remove());

  describe("python (pyright)", () => {
    let id = "";

    beforeAll(async () => {
      const res = await lsp.startLspServer({ languageId: "python", rootPath: "py" });
      id = res.server?.serverId ?? "";
      expect(id).toMatch(/^lsp_[0-9A-Za-z]{22}$/);
      expect(res.server?.rootPath).toBe("/home/cove/py");
      await lsp.didOpen({ serverId: id, path: "main.py" });
      await lsp.didOpen({ serverId: id, path: "calc.py" });
    }, 60_000);

    afterAll(async () => {
      if (id) await lsp.stopLspServer({ serverId: id }).catch(() => undefined);
    });

    test("the server runs as the sandbox user and is listed", async () => {
      const { servers } = await lsp.listLspServers({});
      const listed = servers.find((s) => s.serverId === id);
      expect(listed?.languageId).toBe("python");
      expect(listed?.pid).toBeGreaterThan(0);
      expect((await sandbox.sh(`ps -o user= -p ${listed?.pid}`)).trim()).toBe("cove");
    });

    test("completions after `g.` offer the class's method", async () => {
      const res = await lsp.completions({
        serverId: id,
        path: "main.py",
        position: { line: 4, character: 2 },
      });
      expect(res.items.map((i) => i.label)).toContain("greet");
    });

    test("hover shows the function's signature and docstring", async () => {
      const res = await lsp.hover({
        serverId: id,
        path: "main.py",
        position: { line: 2, character: 9 },
      });
      expect(res.contents).toMatch(/def add\(\s*a: int,\s*b: int\s*\) -> int/);
      expect(res.contents).toContain("Add two numbers.");
    });

    test("definition points into the other file", async () => {
      const res = await lsp.definition({
        serverId: id,
        path: "/home/cove/py/main.py",
        position: { line: 2, character: 9 },
      });
      expect(res.locations).toEqual([
        expect.objectContaining({
          path: "/home/cove/py/calc.py",
          range: expect.objectContaining({ start: expect.objectContaining({ line: 0 }) }),
        }),
      ]);
    });

    test("document symbols are flattened with their container", async () => {
      const { symbols } = await lsp.documentSymbols({ serverId: id, path: "calc.py" });
      const byName = Object.fromEntries(symbols.map((s) => [s.name, s]));
      expect(byName.add?.kind).toBe(LspSymbolKind.FUNCTION);
      expect(byName.Greeter?.kind).toBe(LspSymbolKind.CLASS);
      expect(byName.greet).toEqual(
        expect.objectContaining({ kind: LspSymbolKind.METHOD, containerName: "Greeter" }),
      );
      expect(byName.greet?.path).toBe("/home/cove/py/calc.py");
      expect(byName.greet?.range?.start?.line).toBe(6);
    });

    test("workspace symbols find a class by name", async () => {
      const { symbols } = await lsp.workspaceSymbols({ serverId: id, query: "Greeter" });
      expect(symbols).toContainEqual(
        expect.objectContaining({ name: "Greeter", path: "/home/cove/py/calc.py" }),
      );
    });

    test("diagnostics report errors in the current text and clear after a fix", async () => {
      await lsp.didOpen({
        serverId: id,
        path: "bad.py",
        text: 'count: int = "many"\nprint(undefined_name)\n',
      });
      const bad = await lsp.diagnostics({ serverId: id, path: "bad.py" });
      expect(bad.current).toBe(true);
      const messages = bad.diagnostics.map((d) => d.message).join("\n");
      expect(messages).toContain("undefined_name");
      expect(bad.diagnostics.every((d) => d.severity === LspDiagnosticSeverity.ERROR)).toBe(true);
      expect(
        bad.diagnostics.find((d) => d.message.includes("undefined_name"))?.range?.start?.line,
      ).toBe(1);
      await lsp.didChange({ serverId: id, path: "bad.py", text: "count: int = 3\nprint(count)\n" });
      const fixed = await lsp.diagnostics({ serverId: id, path: "bad.py" });
      expect(fixed).toEqual(expect.objectContaining({ current: true, diagnostics: [] }));
    });

    test("DidChange and Diagnostics of a document that is not open are FAILED_PRECONDITION", async () => {
      const change = await failure(
        lsp.didChange({ serverId: id, path: "never.py", text: "x = 1" }),
      );
      expect(change.code).toBe(Code.FailedPrecondition);
      expect(reasonOf(change)).toContain("LSP_DOCUMENT_NOT_OPEN");
      const diags = await failure(lsp.diagnostics({ serverId: id, path: "never.py" }));
      expect(diags.code).toBe(Code.FailedPrecondition);
      // Closing what is not open is fine.
      await lsp.didClose({ serverId: id, path: "never.py" });
    });

    test("DidOpen of a missing file is NOT_FOUND; of a directory FAILED_PRECONDITION", async () => {
      const missing = await failure(lsp.didOpen({ serverId: id, path: "nope.py" }));
      expect(missing.code).toBe(Code.NotFound);
      expect(reasonOf(missing)).toContain("FILE_NOT_FOUND");
      const dir = await failure(lsp.didOpen({ serverId: id, path: "/home/cove" }));
      expect(dir.code).toBe(Code.FailedPrecondition);
      expect(reasonOf(dir)).toContain("NOT_A_REGULAR_FILE");
    });

    test("SendLspMessage passes a raw request through; reserved ids are refused", async () => {
      const res = await lsp.sendLspMessage({
        serverId: id,
        json: JSON.stringify({
          jsonrpc: "2.0",
          id: 7,
          method: "textDocument/hover",
          params: {
            textDocument: { uri: "file:///home/cove/py/main.py" },
            position: { line: 2, character: 9 },
          },
        }),
      });
      const reply = JSON.parse(res.responseJson) as { id: number; result: { contents: unknown } };
      expect(reply.id).toBe(7);
      expect(JSON.stringify(reply.result.contents)).toContain("add");
      const reserved = await failure(
        lsp.sendLspMessage({
          serverId: id,
          json: JSON.stringify({ jsonrpc: "2.0", id: "cove-1", method: "shutdown" }),
        }),
      );
      expect(reserved.code).toBe(Code.InvalidArgument);
      const garbage = await failure(lsp.sendLspMessage({ serverId: id, json: "{not json" }));
      expect(garbage.code).toBe(Code.InvalidArgument);
    });

    test("WatchLspMessages streams the diagnostics the server publishes", async () => {
      const abort = new AbortController();
      const stream = lsp.watchLspMessages({ serverId: id }, { signal: abort.signal });
      const seen = (async () => {
        for await (const res of stream) {
          if (res.event.case !== "json") continue;
          const message = JSON.parse(res.event.value) as {
            method?: string;
            params?: { uri?: string };
          };
          if (
            message.method === "textDocument/publishDiagnostics" &&
            message.params?.uri?.endsWith("/watched.py")
          ) {
            return message;
          }
        }
        return undefined;
      })();
      // The watch is registered once its first message could arrive: give it a moment.
      await new Promise((resolve) => setTimeout(resolve, 300));
      await lsp.didOpen({ serverId: id, path: "watched.py", text: "x: int = 'no'\n" });
      const message = await seen;
      abort.abort();
      expect(message?.method).toBe("textDocument/publishDiagnostics");
    });
  });

  describe("typescript and javascript (typescript-language-server)", () => {
    let id = "";

    beforeAll(async () => {
      const res = await lsp.startLspServer({ languageId: "typescript", rootPath: "/home/cove/ts" });
      id = res.server?.serverId ?? "";
      await lsp.didOpen({ serverId: id, path: "app.ts" });
      await lsp.didOpen({ serverId: id, path: "lib.ts" });
    }, 60_000);

    afterAll(async () => {
      if (id) await lsp.stopLspServer({ serverId: id }).catch(() => undefined);
    });

    test("completions after `Math.` include floor", async () => {
      const res = await lsp.completions({
        serverId: id,
        path: "app.ts",
        position: { line: 3, character: 5 },
      });
      expect(res.items.map((i) => i.label)).toContain("floor");
    });

    test("hover describes the imported function; definition finds it in lib.ts", async () => {
      const hover = await lsp.hover({
        serverId: id,
        path: "app.ts",
        position: { line: 2, character: 20 },
      });
      expect(hover.contents).toContain("square(n: number): number");
      const def = await lsp.definition({
        serverId: id,
        path: "app.ts",
        position: { line: 2, character: 20 },
      });
      expect(def.locations.map((l) => [l.path, l.range?.start?.line])).toEqual([
        ["/home/cove/ts/lib.ts", 0],
      ]);
    });

    test("document and workspace symbols", async () => {
      const { symbols } = await lsp.documentSymbols({ serverId: id, path: "lib.ts" });
      expect(symbols.map((s) => s.name)).toEqual(
        expect.arrayContaining(["square", "Shape", "area"]),
      );
      expect(symbols.find((s) => s.name === "area")?.containerName).toBe("Shape");
      const found = await lsp.workspaceSymbols({ serverId: id, query: "square" });
      expect(found.symbols).toContainEqual(
        expect.objectContaining({ name: "square", path: "/home/cove/ts/lib.ts" }),
      );
    });

    test("diagnostics carry the type error with its code", async () => {
      const res = await lsp.diagnostics({ serverId: id, path: "app.ts" });
      expect(res.current).toBe(true);
      const typeError = res.diagnostics.find((d) => d.code === "2322");
      expect(typeError?.message).toContain("not assignable to type 'string'");
      expect(typeError?.range?.start?.line).toBe(2);
      expect(typeError?.source).toBe("typescript");
    });

    test("a javascript server completes array methods in a .js file", async () => {
      await sandbox.sh("cat > ~/js/main.js", "const xs = [1, 2, 3];\nxs.\n");
      const started = await lsp.startLspServer({ languageId: "javascript", rootPath: "js" });
      const js = started.server?.serverId ?? "";
      try {
        await lsp.didOpen({ serverId: js, path: "main.js" });
        const res = await lsp.completions({
          serverId: js,
          path: "main.js",
          position: { line: 1, character: 3 },
        });
        expect(res.items.map((i) => i.label)).toContain("map");
      } finally {
        await lsp.stopLspServer({ serverId: js });
      }
    }, 60_000);
  });

  test("StopLspServer ends the process; the id is then NOT_FOUND", async () => {
    const res = await lsp.startLspServer({ languageId: "python", rootPath: "py" });
    const id = res.server?.serverId ?? "";
    const pid = res.server?.pid ?? 0;
    await lsp.stopLspServer({ serverId: id });
    expect((await lsp.listLspServers({})).servers.map((s) => s.serverId)).not.toContain(id);
    expect((await sandbox.sh(`kill -0 ${pid} 2>/dev/null && echo alive || echo gone`)).trim()).toBe(
      "gone",
    );
    const after = await failure(lsp.hover({ serverId: id, path: "main.py", position: {} }));
    expect(after.code).toBe(Code.NotFound);
    expect(reasonOf(after)).toContain("LSP_SERVER_NOT_FOUND");
  }, 60_000);

  test("a server that crashed answers UNAVAILABLE (LSP_SERVER_EXITED) until stopped", async () => {
    const res = await lsp.startLspServer({ languageId: "python", rootPath: "py" });
    const id = res.server?.serverId ?? "";
    await sandbox.sh(`kill -9 ${res.server?.pid}`);
    let err: ConnectError | undefined;
    for (let i = 0; i < 50 && err?.code !== Code.Unavailable; i++) {
      // Calls succeed until the daemon has seen the process end.
      err = await lsp.didOpen({ serverId: id, path: "main.py" }).then(
        () => undefined,
        (e: unknown) => e as ConnectError,
      );
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(err?.code).toBe(Code.Unavailable);
    expect(reasonOf(err)).toContain("LSP_SERVER_EXITED");
    await lsp.stopLspServer({ serverId: id });
  }, 60_000);

  test("bad starts: unknown language, missing root, a file as root", async () => {
    const lang = await failure(lsp.startLspServer({ languageId: "cobol", rootPath: "py" }));
    expect(lang.code).toBe(Code.InvalidArgument);
    const missing = await failure(
      lsp.startLspServer({ languageId: "python", rootPath: "nowhere" }),
    );
    expect(missing.code).toBe(Code.NotFound);
    expect(reasonOf(missing)).toContain("FILE_NOT_FOUND");
    const file = await failure(lsp.startLspServer({ languageId: "python", rootPath: "plain" }));
    expect(file.code).toBe(Code.FailedPrecondition);
    expect(reasonOf(file)).toContain("NOT_A_DIRECTORY");
    const unknown = await failure(
      lsp.listLspServers({}).then(() => lsp.stopLspServer({ serverId: "lsp_x" })),
    );
    expect(unknown.code).toBe(Code.NotFound);
  });
});

test("an image without language servers answers FAILED_PRECONDITION (RUNTIME_NOT_INSTALLED)", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cove-lsp-env-"));
  const envFile = path.join(dir, "sandbox.env");
  // A sandbox environment whose PATH has no language server on it.
  fs.writeFileSync(envFile, `PATH=${dir}/empty-bin\0`);
  const bare = await startTestDaemon({ sandboxEnvFile: envFile });
  try {
    const lsp = bare.client(LspService);
    for (const languageId of ["python", "typescript"]) {
      const err = await failure(lsp.startLspServer({ languageId, rootPath: bare.home }));
      expect(err.code).toBe(Code.FailedPrecondition);
      expect(reasonOf(err)).toContain("RUNTIME_NOT_INSTALLED");
    }
  } finally {
    await bare.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
