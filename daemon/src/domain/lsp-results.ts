import { fileURLToPath } from "node:url";

/** Most items, symbols or locations a typed LspService answer carries. */
export const MAX_LSP_ITEMS = 1000;

/** A position in a document: zero-based line and UTF-16 character offset (as in LSP). */
export interface Position {
  /** Zero-based line. */
  line: number;
  /** Zero-based offset in the line, in UTF-16 code units. */
  character: number;
}

/** A range in a document, end exclusive. */
export interface Range {
  /** First position. */
  start: Position;
  /** Position just after the range. */
  end: Position;
}

/** One completion proposal, normalized. */
export interface CompletionItem {
  /** Text shown in the list. */
  label: string;
  /** LSP CompletionItemKind (1..25), 0 for none. */
  kind: number;
  /** Extra information such as a signature. */
  detail: string;
  /** Documentation as plain text or Markdown. */
  documentation: string;
  /** Text to insert; "" means label. */
  insertText: string;
  /** Sort key; "" means label. */
  sortText: string;
  /** Filter key; "" means label. */
  filterText: string;
}

/** A symbol in a document or the workspace, normalized. */
export interface LspSymbolInfo {
  /** Its name. */
  name: string;
  /** LSP SymbolKind (1..26), 0 for none. */
  kind: number;
  /** Absolute path of its file (or the URI when it is not a file: URI). */
  path: string;
  /** Its extent (zero when the server gave none). */
  range: Range;
  /** The enclosing symbol's name, or "". */
  containerName: string;
}

/** A location in a file. */
export interface Location {
  /** Absolute path (or the URI when it is not a file: URI). */
  path: string;
  /** Range in that file. */
  range: Range;
}

/** One diagnostic, normalized. */
export interface Diagnostic {
  /** Where the problem is. */
  range: Range;
  /** LSP DiagnosticSeverity (1..4), 0 for none. */
  severity: number;
  /** The server's code, as text. */
  code: string;
  /** What found it. */
  source: string;
  /** The description. */
  message: string;
}

/** Hover information, normalized. */
export interface Hover {
  /** The contents as Markdown (or plain text when markdown is false); "" for nothing. */
  contents: string;
  /** Whether contents is Markdown. */
  markdown: boolean;
  /** The described range, if the server gave one. */
  range: Range | undefined;
}

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === "object" && value !== null && !Array.isArray(value);
const text = (value: unknown): string => (typeof value === "string" ? value : "");
const whole = (value: unknown): number =>
  typeof value === "number" && Number.isInteger(value) && value >= 0 ? value : 0;

/** pathOfUri turns a file: URI into an absolute path; other URIs are returned as they are. */
export function pathOfUri(uri: string): string {
  if (!uri.startsWith("file:")) return uri;
  try {
    return fileURLToPath(uri);
  } catch {
    return uri;
  }
}

function position(value: unknown): Position {
  const p = isObject(value) ? value : {};
  return { line: whole(p.line), character: whole(p.character) };
}

/** rangeOf reads an LSP Range (zeros for anything missing). */
export function rangeOf(value: unknown): Range {
  const r = isObject(value) ? value : {};
  return { start: position(r.start), end: position(r.end) };
}

/** markupText reads documentation: a string, MarkupContent or MarkedString(s). */
function markup(value: unknown): { text: string; markdown: boolean } {
  if (typeof value === "string") return { text: value, markdown: true };
  if (Array.isArray(value)) {
    const parts = value.map(markup).filter((p) => p.text !== "");
    return { text: parts.map((p) => p.text).join("\n\n"), markdown: true };
  }
  if (!isObject(value)) return { text: "", markdown: true };
  if (typeof value.kind === "string") {
    return { text: text(value.value), markdown: value.kind !== "plaintext" };
  }
  if (typeof value.language === "string") {
    const code = text(value.value);
    return { text: code ? `\`\`\`${value.language}\n${code}\n\`\`\`` : "", markdown: true };
  }
  return { text: text(value.value), markdown: true };
}

/** toCompletions reads a textDocument/completion result (a list or a CompletionList). */
export function toCompletions(result: unknown): { items: CompletionItem[]; isIncomplete: boolean } {
  const list = Array.isArray(result) ? result : isObject(result) ? result.items : [];
  let isIncomplete = isObject(result) && result.isIncomplete === true;
  const raw = Array.isArray(list) ? list : [];
  if (raw.length > MAX_LSP_ITEMS) isIncomplete = true;
  const items = raw.slice(0, MAX_LSP_ITEMS).map((value): CompletionItem => {
    const item = isObject(value) ? value : {};
    const edit = isObject(item.textEdit) ? text(item.textEdit.newText) : "";
    return {
      label: text(item.label),
      kind: whole(item.kind),
      detail: text(item.detail),
      documentation: markup(item.documentation).text,
      insertText: edit || text(item.insertText),
      sortText: text(item.sortText),
      filterText: text(item.filterText),
    };
  });
  return { items, isIncomplete };
}

/** toHover reads a textDocument/hover result. */
export function toHover(result: unknown): Hover {
  if (!isObject(result)) return { contents: "", markdown: true, range: undefined };
  const contents = markup(result.contents);
  return {
    contents: contents.text,
    markdown: contents.markdown,
    range: result.range === undefined ? undefined : rangeOf(result.range),
  };
}

/** toLocations reads a Location, Location[] or LocationLink[] (definition results). */
export function toLocations(result: unknown): Location[] {
  const list = Array.isArray(result) ? result : result ? [result] : [];
  const out: Location[] = [];
  for (const value of list.slice(0, MAX_LSP_ITEMS)) {
    if (!isObject(value)) continue;
    if (typeof value.targetUri === "string") {
      out.push({
        path: pathOfUri(value.targetUri),
        range: rangeOf(value.targetSelectionRange ?? value.targetRange),
      });
    } else if (typeof value.uri === "string") {
      out.push({ path: pathOfUri(value.uri), range: rangeOf(value.range) });
    }
  }
  return out;
}

/**
 * toDocumentSymbols reads a textDocument/documentSymbol result: hierarchical DocumentSymbols
 * are flattened parents first (children name their parent), SymbolInformation kept in order.
 */
export function toDocumentSymbols(result: unknown, path: string): LspSymbolInfo[] {
  const out: LspSymbolInfo[] = [];
  const walk = (values: unknown[], container: string) => {
    for (const value of values) {
      if (out.length >= MAX_LSP_ITEMS) return;
      if (!isObject(value)) continue;
      if (isObject(value.location)) {
        out.push(symbolInformation(value));
        continue;
      }
      const name = text(value.name);
      out.push({
        name,
        kind: whole(value.kind),
        path,
        range: rangeOf(value.range),
        containerName: container,
      });
      if (Array.isArray(value.children)) walk(value.children, name);
    }
  };
  walk(Array.isArray(result) ? result : [], "");
  return out;
}

function symbolInformation(value: Json): LspSymbolInfo {
  const location = isObject(value.location) ? value.location : {};
  return {
    name: text(value.name),
    kind: whole(value.kind),
    path: pathOfUri(text(location.uri)),
    range: rangeOf(location.range),
    containerName: text(value.containerName),
  };
}

/** toWorkspaceSymbols reads a workspace/symbol result (SymbolInformation or WorkspaceSymbol). */
export function toWorkspaceSymbols(result: unknown): LspSymbolInfo[] {
  const list = Array.isArray(result) ? result : [];
  return list.slice(0, MAX_LSP_ITEMS).filter(isObject).map(symbolInformation);
}

/** toDiagnostics reads the diagnostics of a textDocument/publishDiagnostics notification. */
export function toDiagnostics(list: unknown): Diagnostic[] {
  const raw = Array.isArray(list) ? list : [];
  return raw
    .slice(0, MAX_LSP_ITEMS)
    .filter(isObject)
    .map((d) => ({
      range: rangeOf(d.range),
      severity: whole(d.severity),
      code: typeof d.code === "number" ? String(d.code) : text(d.code),
      source: text(d.source),
      message: text(d.message),
    }));
}
