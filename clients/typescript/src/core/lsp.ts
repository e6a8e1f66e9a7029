// sandbox.lsp and sandbox.createLspServer: language servers in the sandbox over LspService, in
// Daytona's shape — createLspServer(languageId, pathToProject) returns a server to start(),
// then didOpen / completions / documentSymbols / sandboxSymbols …, and stop(). Positions are
// zero-based lines and UTF-16 characters, as in LSP; relative paths resolve against the
// project root.
import type {
  LspDiagnostic as LspDiagnosticMessage,
  LspRange as LspRangeMessage,
  LspServer as LspServerMessage,
  LspSymbol as LspSymbolMessage,
} from "@cove/gen-ts/cove/toolbox/v1/lsp_pb.js";
import { seconds, toDate } from "./convert.js";
import { CoveConflictError, CoveNotFoundError } from "./errors.js";
import type { Toolbox } from "./toolbox.js";

/** Languages with a language server in the sandbox. */
export type LspLanguageId = "python" | "typescript" | "javascript";

/** A position in a document: zero-based line and character (UTF-16 code units). */
export interface Position {
  /** line is zero-based. */
  line: number;
  /** character is the zero-based offset in the line. */
  character: number;
}

/** A range in a document, end exclusive. */
export interface Range {
  /** start is the first position. */
  start: Position;
  /** end is the position just after the range. */
  end: Position;
}

/** One completion proposal (Daytona's CompletionItem). */
export interface CompletionItem {
  /** label is the text shown. */
  label: string;
  /** kind is LSP's CompletionItemKind (e.g. 2 method, 3 function, 6 variable), 0 for none. */
  kind: number;
  /** detail is extra information such as a signature. */
  detail: string;
  /** documentation is plain text or Markdown. */
  documentation: string;
  /** insertText is what to insert ("" means label). */
  insertText: string;
  /** sortText orders items ("" means label). */
  sortText: string;
  /** filterText is matched against typed text ("" means label). */
  filterText: string;
}

/** The answer of completions (Daytona's CompletionList). */
export interface CompletionList {
  /** isIncomplete is true when typing more should ask again. */
  isIncomplete: boolean;
  /** items are the proposals in the server's order (at most 1000). */
  items: CompletionItem[];
}

/** A symbol of a document or of the project. */
export interface LspSymbol {
  /** name is the symbol's name. */
  name: string;
  /** kind is LSP's SymbolKind (e.g. 5 class, 6 method, 12 function), 0 for none. */
  kind: number;
  /** path is the absolute path of the file that defines it. */
  path: string;
  /** range is its extent. */
  range: Range;
  /** containerName is the enclosing symbol's name, or "". */
  containerName: string;
  /** location is Daytona's form of path and range ({ uri, range }). */
  location: { uri: string; range: Range };
}

/** A place in a file. */
export interface LspLocation {
  /** path is the absolute path (or the server's URI when it is not a file). */
  path: string;
  /** range is the range in that file. */
  range: Range;
}

/** What hover says about a symbol. */
export interface HoverInfo {
  /** contents is Markdown (or plain text when markdown is false); "" for nothing. */
  contents: string;
  /** markdown is false when the server sent plain text. */
  markdown: boolean;
  /** range is the described symbol's extent, when the server gave one. */
  range: Range | undefined;
}

/** One problem a server found. */
export interface LspDiagnostic {
  /** range is where the problem is. */
  range: Range;
  /** severity is "error", "warning", "information", "hint" or "" when the server gave none. */
  severity: "error" | "warning" | "information" | "hint" | "";
  /** code is the server's code for the problem, or "". */
  code: string;
  /** source names what found it (e.g. "typescript", "Pyright"). */
  source: string;
  /** message describes the problem. */
  message: string;
}

/** The answer of diagnostics. */
export interface Diagnostics {
  /** diagnostics are the server's latest report for the document. */
  diagnostics: LspDiagnostic[];
  /** current is false when the wait ran out before the server reported on the current text. */
  current: boolean;
}

/** A running server as listed by sandbox.lsp.list(). */
export interface LspServerInfo {
  /** id names the server ("lsp_…"). */
  id: string;
  /** languageId is its language. */
  languageId: string;
  /** rootPath is the absolute project root. */
  rootPath: string;
  /** pid is the language server's process id in the sandbox. */
  pid: number;
  /** startedAt is when it started. */
  startedAt: Date | undefined;
}

const SEVERITIES = ["", "error", "warning", "information", "hint"] as const;

const rangeOf = (r: LspRangeMessage | undefined): Range => ({
  start: { line: r?.start?.line ?? 0, character: r?.start?.character ?? 0 },
  end: { line: r?.end?.line ?? 0, character: r?.end?.character ?? 0 },
});

const uriOf = (path: string) =>
  path.startsWith("/") ? `file://${path.split("/").map(encodeURIComponent).join("/")}` : path;

function symbolOf(s: LspSymbolMessage): LspSymbol {
  const range = rangeOf(s.range);
  return {
    name: s.name,
    kind: s.kind,
    path: s.path,
    range,
    containerName: s.containerName,
    location: { uri: uriOf(s.path), range },
  };
}

function diagnosticOf(d: LspDiagnosticMessage): LspDiagnostic {
  return {
    range: rangeOf(d.range),
    severity: SEVERITIES[d.severity] ?? "",
    code: d.code,
    source: d.source,
    message: d.message,
  };
}

function infoOf(m: LspServerMessage | undefined): LspServerInfo {
  return {
    id: m?.serverId ?? "",
    languageId: m?.languageId ?? "",
    rootPath: m?.rootPath ?? "",
    pid: m?.pid ?? 0,
    startedAt: toDate(m?.startTime),
  };
}

/**
 * LspServer is one language server for a project (Daytona's LspServer): start() it, tell it
 * which documents are open, ask it questions, stop() it.
 */
export class LspServer {
  private serverId: string | undefined;

  constructor(
    private readonly toolbox: Toolbox,
    /** languageId is the server's language. */
    readonly languageId: LspLanguageId | string,
    /** pathToProject is the project root (relative to the user's home, or absolute). */
    readonly pathToProject: string,
    serverId?: string,
  ) {
    this.serverId = serverId;
  }

  /** id is the server's id once started ("lsp_…"), else undefined. */
  get id(): string | undefined {
    return this.serverId;
  }

  private get sid(): string {
    if (this.serverId === undefined) {
      throw new CoveConflictError("the language server is not started: call start() first", {
        code: "failed_precondition",
        reason: "LSP_SERVER_NOT_FOUND",
      });
    }
    return this.serverId;
  }

  /** start starts the server and completes the LSP handshake; starting twice is a no-op. */
  async start(): Promise<LspServerInfo> {
    if (this.serverId !== undefined) {
      const found = (await this.list()).find((s) => s.id === this.serverId);
      if (found) return found;
    }
    const res = await this.toolbox.call({ idempotent: false }, (a) =>
      this.toolbox.lsp.startLspServer(
        { languageId: this.languageId, rootPath: this.pathToProject },
        a,
      ),
    );
    const info = infoOf(res.server);
    this.serverId = info.id;
    return info;
  }

  /** stop shuts the server down. */
  async stop(): Promise<void> {
    const id = this.sid;
    await this.toolbox.call({ idempotent: false }, (a) =>
      this.toolbox.lsp.stopLspServer({ serverId: id }, a),
    );
    this.serverId = undefined;
  }

  /** didOpen opens a document; without text the sandbox reads the file. */
  async didOpen(path: string, text?: string, languageId?: string): Promise<void> {
    const id = this.sid;
    await this.toolbox.call({ idempotent: true }, (a) =>
      this.toolbox.lsp.didOpen(
        { serverId: id, path, text: text ?? "", languageId: languageId ?? "" },
        a,
      ),
    );
  }

  /** didChange replaces an open document's text. */
  async didChange(path: string, text: string): Promise<void> {
    const id = this.sid;
    await this.toolbox.call({ idempotent: false }, (a) =>
      this.toolbox.lsp.didChange({ serverId: id, path, text }, a),
    );
  }

  /** didClose closes a document. */
  async didClose(path: string): Promise<void> {
    const id = this.sid;
    await this.toolbox.call({ idempotent: true }, (a) =>
      this.toolbox.lsp.didClose({ serverId: id, path }, a),
    );
  }

  /** completions asks for completions at a position of an open document. */
  async completions(path: string, position: Position): Promise<CompletionList> {
    const id = this.sid;
    const res = await this.toolbox.call({ idempotent: true }, (a) =>
      this.toolbox.lsp.completions({ serverId: id, path, position }, a),
    );
    return {
      isIncomplete: res.isIncomplete,
      items: res.items.map((i) => ({
        label: i.label,
        kind: i.kind,
        detail: i.detail,
        documentation: i.documentation,
        insertText: i.insertText,
        sortText: i.sortText,
        filterText: i.filterText,
      })),
    };
  }

  /** hover describes the symbol at a position. */
  async hover(path: string, position: Position): Promise<HoverInfo> {
    const id = this.sid;
    const res = await this.toolbox.call({ idempotent: true }, (a) =>
      this.toolbox.lsp.hover({ serverId: id, path, position }, a),
    );
    return {
      contents: res.contents,
      markdown: res.markdown,
      range: res.range ? rangeOf(res.range) : undefined,
    };
  }

  /** definition finds where the symbol at a position is defined. */
  async definition(path: string, position: Position): Promise<LspLocation[]> {
    const id = this.sid;
    const res = await this.toolbox.call({ idempotent: true }, (a) =>
      this.toolbox.lsp.definition({ serverId: id, path, position }, a),
    );
    return res.locations.map((l) => ({ path: l.path, range: rangeOf(l.range) }));
  }

  /** documentSymbols lists a document's symbols (nested ones name their container). */
  async documentSymbols(path: string): Promise<LspSymbol[]> {
    const id = this.sid;
    const res = await this.toolbox.call({ idempotent: true }, (a) =>
      this.toolbox.lsp.documentSymbols({ serverId: id, path }, a),
    );
    return res.symbols.map(symbolOf);
  }

  /** sandboxSymbols searches the project's symbols by (fuzzy) name (Daytona's name). */
  async sandboxSymbols(query: string): Promise<LspSymbol[]> {
    const id = this.sid;
    const res = await this.toolbox.call({ idempotent: true }, (a) =>
      this.toolbox.lsp.workspaceSymbols({ serverId: id, query }, a),
    );
    return res.symbols.map(symbolOf);
  }

  /** workspaceSymbols is sandboxSymbols under LSP's name. */
  workspaceSymbols(query: string): Promise<LspSymbol[]> {
    return this.sandboxSymbols(query);
  }

  /**
   * diagnostics returns the problems the server reported for an open document, waiting
   * (default 10 s, at most 60) until it reported on the current text.
   */
  async diagnostics(path: string, options: { wait?: number } = {}): Promise<Diagnostics> {
    const id = this.sid;
    const timeoutMs = ((options.wait ?? 10) + 30) * 1000;
    const res = await this.toolbox.call({ idempotent: true, timeoutMs }, (a) =>
      this.toolbox.lsp.diagnostics(
        {
          serverId: id,
          path,
          wait: options.wait === undefined ? undefined : seconds(options.wait),
        },
        a,
      ),
    );
    return { diagnostics: res.diagnostics.map(diagnosticOf), current: res.current };
  }

  /**
   * sendMessage sends one raw JSON-RPC message to the server; a request (with an id) resolves
   * with the server's response, anything else with undefined.
   */
  async sendMessage(message: Record<string, unknown>): Promise<unknown> {
    const id = this.sid;
    const res = await this.toolbox.call({ idempotent: false }, (a) =>
      this.toolbox.lsp.sendLspMessage({ serverId: id, json: JSON.stringify(message) }, a),
    );
    return res.responseJson === "" ? undefined : JSON.parse(res.responseJson);
  }

  private list(): Promise<LspServerInfo[]> {
    return new Lsp(this.toolbox).list();
  }
}

/** The language servers of one sandbox (sandbox.lsp). */
export class Lsp {
  constructor(private readonly toolbox: Toolbox) {}

  /** createServer makes a server for a project; call start() on it (Daytona's createLspServer). */
  createServer(languageId: LspLanguageId | string, pathToProject: string): LspServer {
    return new LspServer(this.toolbox, languageId, pathToProject);
  }

  /** list lists the running servers, oldest first. */
  async list(): Promise<LspServerInfo[]> {
    const res = await this.toolbox.call({ idempotent: true }, (a) =>
      this.toolbox.lsp.listLspServers({}, a),
    );
    return res.servers.map(infoOf);
  }

  /** get attaches to a running server by id. */
  async get(serverId: string): Promise<LspServer> {
    const found = (await this.list()).find((s) => s.id === serverId);
    if (!found) {
      throw new CoveNotFoundError(`no language server "${serverId}"`, {
        code: "not_found",
        reason: "LSP_SERVER_NOT_FOUND",
      });
    }
    return new LspServer(this.toolbox, found.languageId, found.rootPath, found.id);
  }
}
