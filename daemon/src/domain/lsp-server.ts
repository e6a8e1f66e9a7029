import { randomInt } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import {
  AsyncQueue,
  CoveError,
  failedPrecondition,
  invalidArgument,
  notFound,
  resourceExhausted,
} from "@cove/common";
import { findOnPath } from "./code-runner.js";
import { type JsonRpcMessage, LspConnection } from "./lsp-connection.js";
import { type DocumentReader, MAX_DOCUMENT_BYTES } from "./lsp-document.js";
import {
  type CompletionItem,
  type Diagnostic,
  type Hover,
  type Location,
  type LspSymbolInfo,
  type Position,
  toCompletions,
  toDiagnostics,
  toDocumentSymbols,
  toHover,
  toLocations,
  toWorkspaceSymbols,
} from "./lsp-results.js";
import type { ProcessManager } from "./process-manager.js";
import type { OsUser } from "./users.js";

/** Languages LspService serves. */
export type LspLanguage = "python" | "javascript" | "typescript";

/** Most language servers that run at once. */
export const MAX_LSP_SERVERS = 8;
/** A watcher this many messages behind is ended. */
const MAX_WATCHER_BACKLOG = 1000;
/** How long Diagnostics waits for more reports once one arrived, in ms. */
const DIAGNOSTICS_QUIET_MS = 300;
/** How long StopLspServer waits for a polite exit before SIGKILL, in ms. */
const STOP_GRACE_MS = 5_000;

/** The program that serves a language, as found on the sandbox's PATH. */
interface ServerCommand {
  /** argv to start it speaking LSP on stdio. */
  argv: string[];
}

/**
 * findLanguageServer picks the language server for a language from PATH: pyright (else
 * python-lsp-server) for Python, typescript-language-server for TypeScript and JavaScript.
 * FAILED_PRECONDITION (RUNTIME_NOT_INSTALLED) when the image has none.
 */
export function findLanguageServer(
  language: LspLanguage,
  pathVar: string | undefined,
): ServerCommand {
  if (language === "python") {
    const pyright = findOnPath("pyright-langserver", pathVar);
    if (pyright) return { argv: [pyright, "--stdio"] };
    const pylsp = findOnPath("pylsp", pathVar);
    if (pylsp) return { argv: [pylsp] };
    throw failedPrecondition(
      "RUNTIME_NOT_INSTALLED",
      "python language servers need pyright (npm i -g pyright) or python-lsp-server (pip install python-lsp-server), neither of which is installed in this sandbox's image",
      { runtime: "pyright-langserver", language },
    );
  }
  const tsls = findOnPath("typescript-language-server", pathVar);
  if (tsls) return { argv: [tsls, "--stdio"] };
  throw failedPrecondition(
    "RUNTIME_NOT_INSTALLED",
    `${language} language servers need typescript-language-server and typescript (npm i -g typescript typescript-language-server), which are not installed in this sandbox's image`,
    { runtime: "typescript-language-server", language },
  );
}

const extensionLanguages: Record<string, string> = {
  ".py": "python",
  ".pyi": "python",
  ".ts": "typescript",
  ".mts": "typescript",
  ".cts": "typescript",
  ".tsx": "typescriptreact",
  ".js": "javascript",
  ".mjs": "javascript",
  ".cjs": "javascript",
  ".jsx": "javascriptreact",
};

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

function serverId(): string {
  let id = "lsp_";
  for (let i = 0; i < 22; i++) id += BASE62[randomInt(62)];
  return id;
}

/** What the client tells the server it can do (initialize's capabilities). */
const CLIENT_CAPABILITIES = {
  general: { positionEncodings: ["utf-16"] },
  textDocument: {
    synchronization: { dynamicRegistration: false, didSave: false },
    completion: {
      completionItem: {
        snippetSupport: false,
        documentationFormat: ["markdown", "plaintext"],
        deprecatedSupport: true,
        labelDetailsSupport: true,
      },
      contextSupport: true,
    },
    hover: { contentFormat: ["markdown", "plaintext"] },
    definition: { linkSupport: true },
    documentSymbol: { hierarchicalDocumentSymbolSupport: true },
    publishDiagnostics: { relatedInformation: true, versionSupport: true },
  },
  workspace: {
    workspaceFolders: true,
    configuration: true,
    symbol: {},
  },
  window: { workDoneProgress: false },
};

/**
 * initializationOptions are what each server is told at start: typescript-language-server
 * runs one tsserver (no separate syntax server) and no automatic typings acquisition (it
 * would run npm, usually without a network), which halves its memory.
 */
function initializationOptions(language: LspLanguage): Record<string, unknown> {
  if (language === "python") return {};
  return { disableAutomaticTypingAcquisition: true, tsserver: { useSyntaxServer: "never" } };
}

/** An open document. */
interface OpenDocument {
  /** LSP version, bumped by every change. */
  version: number;
  /** Change counter value at the last open or change. */
  changeSeq: number;
}

/** The diagnostics last published for a URI. */
interface Published {
  /** Counter value when they arrived. */
  seq: number;
  /** The document version they are for, if the server said. */
  version: number | undefined;
  /** The diagnostics. */
  items: Diagnostic[];
}

/** How a language server is started. */
export interface LspServerSpec {
  /** The language. */
  language: LspLanguage;
  /** Absolute project root (checked to be a directory). */
  root: string;
  /** OS user the server runs as. */
  user: OsUser | undefined;
  /** Bytes of each output stream the process manager holds. */
  bufferBytes: number;
  /** Reads documents opened without text, as `user`. */
  readDocument: DocumentReader;
}

/**
 * LspServer is one running language server for a project root: the LSP handshake, open
 * documents with their versions, the latest diagnostics per document, typed requests and
 * raw passthrough, and watchers of everything the server says.
 */
export class LspServer {
  /** The server id ("lsp_" + 22 base62 characters). */
  readonly id = serverId();
  /** When it started. */
  readonly startTime = new Date();
  private connection: LspConnection | undefined;
  private pid = 0;
  private readonly documents = new Map<string, OpenDocument>();
  private readonly published = new Map<string, Published>();
  private readonly publishWaiters = new Set<() => void>();
  private readonly watchers = new Set<AsyncQueue<string>>();
  private seq = 0;
  private stopped = false;

  constructor(
    /** How it was started. */
    readonly spec: LspServerSpec,
  ) {}

  /** The language server's process id. */
  get processId(): number {
    return this.pid;
  }

  /** start spawns the server and completes initialize / initialized. */
  async start(processes: ProcessManager): Promise<void> {
    const env = processes.baseEnv(this.spec.user);
    const command = findLanguageServer(this.spec.language, env.PATH);
    const proc = await processes.start({
      program: { argv: command.argv },
      cwd: this.spec.root,
      env: {},
      user: this.spec.user,
      tag: "",
      timeoutMs: undefined,
      openStdin: true,
      bufferBytes: this.spec.bufferBytes,
      retain: false,
    });
    this.pid = proc.pid;
    const connection = new LspConnection(
      proc,
      (method, params) => this.answer(method, params),
      this.id,
    );
    this.connection = connection;
    connection.listen((json, message) => this.onMessage(json, message));
    void connection.exited.then(() => this.endWatchers(connection));
    const rootUri = pathToFileURL(this.spec.root).href;
    try {
      await connection.request("initialize", {
        // Not the daemon's pid: servers exit when they cannot signal their client's process,
        // and the sandbox user may not signal the daemon (root).
        processId: null,
        clientInfo: { name: "cove-daemon" },
        rootPath: this.spec.root,
        rootUri,
        workspaceFolders: [{ uri: rootUri, name: path.basename(this.spec.root) || "/" }],
        capabilities: CLIENT_CAPABILITIES,
        initializationOptions: initializationOptions(this.spec.language),
      });
      await connection.notify("initialized", {});
    } catch (err) {
      connection.kill();
      if (err instanceof CoveError && err.reason === "LSP_SERVER_EXITED") {
        throw failedPrecondition(
          "RUNTIME_NOT_INSTALLED",
          `the ${this.spec.language} language server (${command.argv[0]}) did not start: ${err.message}`,
          { runtime: command.argv[0] ?? "", language: this.spec.language },
        );
      }
      throw err;
    }
  }

  /** documentPath resolves a document path against the root. */
  resolve(file: string): { path: string; uri: string } {
    if (file === "") throw invalidArgument("path", "must not be empty");
    if (file.includes("\0")) throw invalidArgument("path", "must not contain NUL bytes");
    const absolute = path.resolve(this.spec.root, file);
    return { path: absolute, uri: pathToFileURL(absolute).href };
  }

  /** didOpen opens (or reopens with new text) a document; empty text reads the file. */
  async didOpen(file: string, text: string, languageId: string): Promise<void> {
    const doc = this.resolve(file);
    const content = text === "" ? await this.spec.readDocument(doc.path) : checkText(text);
    const connection = this.live();
    const open = this.documents.get(doc.uri);
    if (open) await connection.notify("textDocument/didClose", { textDocument: { uri: doc.uri } });
    const entry: OpenDocument = { version: (open?.version ?? 0) + 1, changeSeq: ++this.seq };
    this.documents.set(doc.uri, entry);
    this.published.delete(doc.uri);
    await connection.notify("textDocument/didOpen", {
      textDocument: {
        uri: doc.uri,
        languageId: languageId || this.languageIdOf(doc.path),
        version: entry.version,
        text: content,
      },
    });
  }

  /** didChange replaces an open document's text; FAILED_PRECONDITION when it is not open. */
  async didChange(file: string, text: string): Promise<void> {
    const doc = this.resolve(file);
    checkText(text);
    const entry = this.openDocument(doc);
    const connection = this.live();
    entry.version++;
    entry.changeSeq = ++this.seq;
    await connection.notify("textDocument/didChange", {
      textDocument: { uri: doc.uri, version: entry.version },
      contentChanges: [{ text }],
    });
  }

  /** didClose closes a document; closing a closed one is success. */
  async didClose(file: string): Promise<void> {
    const doc = this.resolve(file);
    const connection = this.live();
    if (!this.documents.delete(doc.uri)) return;
    await connection.notify("textDocument/didClose", { textDocument: { uri: doc.uri } });
  }

  /** completions asks for completions at a position. */
  async completions(
    file: string,
    at: Position,
  ): Promise<{ items: CompletionItem[]; isIncomplete: boolean }> {
    const doc = this.resolve(file);
    const result = await this.live().request("textDocument/completion", {
      textDocument: { uri: doc.uri },
      position: at,
      context: { triggerKind: 1 },
    });
    return toCompletions(result);
  }

  /** hover asks what the symbol at a position is. */
  async hover(file: string, at: Position): Promise<Hover> {
    const doc = this.resolve(file);
    const result = await this.live().request("textDocument/hover", {
      textDocument: { uri: doc.uri },
      position: at,
    });
    return toHover(result);
  }

  /** definition finds where the symbol at a position is defined. */
  async definition(file: string, at: Position): Promise<Location[]> {
    const doc = this.resolve(file);
    const result = await this.live().request("textDocument/definition", {
      textDocument: { uri: doc.uri },
      position: at,
    });
    return toLocations(result);
  }

  /** documentSymbols lists a document's symbols, flattened. */
  async documentSymbols(file: string): Promise<LspSymbolInfo[]> {
    const doc = this.resolve(file);
    const result = await this.live().request("textDocument/documentSymbol", {
      textDocument: { uri: doc.uri },
    });
    return toDocumentSymbols(result, doc.path);
  }

  /** workspaceSymbols searches the project's symbols. */
  async workspaceSymbols(query: string): Promise<LspSymbolInfo[]> {
    const result = await this.live().request("workspace/symbol", { query });
    return toWorkspaceSymbols(result);
  }

  /**
   * diagnostics returns the latest diagnostics of an open document once the server reported
   * on its current text and then stayed quiet for a moment, or what is known when waitMs
   * runs out (current false).
   */
  async diagnostics(
    file: string,
    waitMs: number,
  ): Promise<{ items: Diagnostic[]; current: boolean }> {
    const doc = this.resolve(file);
    const entry = this.openDocument(doc);
    this.live();
    const deadline = Date.now() + waitMs;
    const isCurrent = () => {
      const got = this.published.get(doc.uri);
      if (!got || got.seq < entry.changeSeq) return false;
      return got.version === undefined || got.version >= entry.version;
    };
    while (!isCurrent() && Date.now() < deadline && this.connection?.alive) {
      await this.nextPublish(deadline - Date.now());
    }
    if (isCurrent()) {
      // Servers often report in steps (syntax, then types): take the last of a burst.
      for (;;) {
        const before = this.published.get(doc.uri)?.seq;
        const left = Math.min(DIAGNOSTICS_QUIET_MS, deadline - Date.now());
        if (left <= 0) break;
        await this.nextPublish(left);
        if (this.published.get(doc.uri)?.seq === before) break;
      }
    }
    return { items: this.published.get(doc.uri)?.items ?? [], current: isCurrent() };
  }

  /** sendRaw passes one JSON-RPC message through; a request resolves with its response. */
  sendRaw(json: string): Promise<string> {
    return this.live().sendRaw(json);
  }

  /**
   * watch streams every message the server sends as JSON text, from now on. The queue fails
   * with RESOURCE_EXHAUSTED when the reader falls 1000 messages behind, and ends when the
   * server stops.
   */
  watch(signal: AbortSignal | undefined): AsyncQueue<string> {
    this.live();
    const queue = new AsyncQueue<string>();
    this.watchers.add(queue);
    signal?.addEventListener(
      "abort",
      () => {
        this.watchers.delete(queue);
        queue.close();
      },
      { once: true },
    );
    return queue;
  }

  /** stop asks the server to shut down and exit, killing it after 5 s; watchers end. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const connection = this.connection;
    if (connection?.alive) {
      const killer = setTimeout(() => connection.kill(), STOP_GRACE_MS);
      try {
        await connection.request("shutdown", null, STOP_GRACE_MS);
        await connection.notify("exit", null);
      } catch {
        connection.kill();
      }
      await connection.exited;
      clearTimeout(killer);
    }
    for (const queue of this.watchers) queue.close();
    this.watchers.clear();
  }

  /** kill ends the server at once (daemon shutdown). */
  kill(): void {
    this.stopped = true;
    this.connection?.kill();
    for (const queue of this.watchers) queue.close();
    this.watchers.clear();
  }

  private live(): LspConnection {
    const connection = this.connection;
    if (!connection || this.stopped) throw lspServerNotFound(this.id);
    connection.assertAlive();
    return connection;
  }

  private openDocument(doc: { path: string; uri: string }): OpenDocument {
    const entry = this.documents.get(doc.uri);
    if (!entry) {
      throw failedPrecondition(
        "LSP_DOCUMENT_NOT_OPEN",
        `${doc.path} is not open on language server ${this.id}: open it with DidOpen first`,
        { serverId: this.id, path: doc.path },
      );
    }
    return entry;
  }

  private languageIdOf(file: string): string {
    return extensionLanguages[path.extname(file).toLowerCase()] ?? this.spec.language;
  }

  private nextPublish(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.publishWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      this.publishWaiters.add(done);
    });
  }

  private onMessage(json: string, message: JsonRpcMessage): void {
    if (message.method === "textDocument/publishDiagnostics") {
      const params = (message.params ?? {}) as {
        uri?: unknown;
        version?: unknown;
        diagnostics?: unknown;
      };
      if (typeof params.uri === "string") {
        this.published.set(params.uri, {
          seq: ++this.seq,
          version: typeof params.version === "number" ? params.version : undefined,
          items: toDiagnostics(params.diagnostics),
        });
        for (const wake of [...this.publishWaiters]) wake();
      }
    }
    for (const queue of this.watchers) {
      if (queue.size >= MAX_WATCHER_BACKLOG) {
        this.watchers.delete(queue);
        queue.fail(
          resourceExhausted(
            "STREAM_LIMIT_EXCEEDED",
            `the watcher fell ${MAX_WATCHER_BACKLOG} messages behind language server ${this.id}`,
            { serverId: this.id, limit: String(MAX_WATCHER_BACKLOG) },
          ),
        );
        continue;
      }
      queue.push(json);
    }
  }

  private endWatchers(connection: LspConnection): void {
    for (const wake of [...this.publishWaiters]) wake();
    if (this.stopped) return;
    for (const queue of this.watchers) {
      queue.fail(
        new CoveError(
          "unavailable",
          "LSP_SERVER_EXITED",
          `the language server ${this.id} has ended: ${connection.stderrTail() || "no message"}`,
          { serverId: this.id },
        ),
      );
    }
    this.watchers.clear();
  }

  /** answer replies to the server's own requests with what a plain editor would say. */
  private answer(method: string, params: unknown): unknown {
    switch (method) {
      case "workspace/configuration": {
        const items = (params as { items?: unknown[] } | undefined)?.items;
        return Array.isArray(items) ? items.map(() => null) : [];
      }
      case "workspace/workspaceFolders": {
        const uri = pathToFileURL(this.spec.root).href;
        return [{ uri, name: path.basename(this.spec.root) || "/" }];
      }
      case "client/registerCapability":
      case "client/unregisterCapability":
      case "window/workDoneProgress/create":
      case "window/showMessageRequest":
      case "workspace/semanticTokens/refresh":
      case "workspace/inlayHint/refresh":
      case "workspace/codeLens/refresh":
      case "workspace/diagnostic/refresh":
        return null;
      case "workspace/applyEdit":
        return { applied: false, failureReason: "the Cove daemon does not apply edits" };
      default:
        throw new Error(`method not supported by the Cove daemon: ${method}`);
    }
  }
}

function checkText(text: string): string {
  if (Buffer.byteLength(text, "utf8") > MAX_DOCUMENT_BYTES) {
    throw invalidArgument("text", "must be at most 8 MiB");
  }
  return text;
}

function lspServerNotFound(id: string): CoveError {
  return notFound("LSP_SERVER_NOT_FOUND", `no language server "${id}"`, { serverId: id });
}

/** LspServerManager holds the running language servers: at most 8, oldest first. */
export class LspServerManager {
  private readonly servers = new Map<string, LspServer>();
  private starting = 0;

  constructor(
    private readonly processes: ProcessManager,
    private readonly bufferBytes: number,
    private readonly readDocument: DocumentReader,
  ) {}

  /** start starts a server for a root; RESOURCE_EXHAUSTED at 8, start errors as thrown. */
  async start(language: LspLanguage, root: string, user: OsUser | undefined): Promise<LspServer> {
    checkRoot(root);
    if (this.servers.size + this.starting >= MAX_LSP_SERVERS) {
      throw resourceExhausted(
        "STREAM_LIMIT_EXCEEDED",
        `at most ${MAX_LSP_SERVERS} language servers may run at once; stop one first`,
        { limit: String(MAX_LSP_SERVERS) },
      );
    }
    const server = new LspServer({
      language,
      root,
      user,
      bufferBytes: this.bufferBytes,
      readDocument: this.readDocument,
    });
    this.starting++;
    try {
      await server.start(this.processes);
    } finally {
      this.starting--;
    }
    this.servers.set(server.id, server);
    return server;
  }

  /** get finds a server; NOT_FOUND (LSP_SERVER_NOT_FOUND) otherwise. */
  get(id: string): LspServer {
    const server = this.servers.get(id);
    if (!server) throw lspServerNotFound(id);
    return server;
  }

  /** list returns the servers, oldest first. */
  list(): LspServer[] {
    return [...this.servers.values()];
  }

  /** stop shuts a server down and forgets it. */
  async stop(id: string): Promise<void> {
    const server = this.get(id);
    this.servers.delete(id);
    await server.stop();
  }

  /** close kills every server. */
  async close(): Promise<void> {
    for (const server of this.servers.values()) server.kill();
    this.servers.clear();
    await this.processes.close();
  }
}

function checkRoot(root: string): void {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(root);
  } catch {
    throw notFound("FILE_NOT_FOUND", `the project root ${root} does not exist`, { path: root });
  }
  if (!stat.isDirectory()) {
    throw failedPrecondition("NOT_A_DIRECTORY", `the project root ${root} is not a directory`, {
      path: root,
    });
  }
}
