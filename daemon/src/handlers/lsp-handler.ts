import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { invalidArgument, resourceExhausted, withKeepalive } from "@cove/common";
import type {
  LspDiagnosticSchema,
  LspRangeSchema,
  LspServerSchema,
  LspSymbolSchema,
} from "@cove/gen-ts/cove/toolbox/v1/lsp_pb.js";
import {
  type CompletionsRequest,
  type DefinitionRequest,
  type DiagnosticsRequest,
  type DidChangeRequest,
  type DidCloseRequest,
  type DidOpenRequest,
  type DocumentSymbolsRequest,
  type HoverRequest,
  LspService,
  type SendLspMessageRequest,
  type StartLspServerRequest,
  type StopLspServerRequest,
  type WatchLspMessagesRequest,
  type WorkspaceSymbolsRequest,
} from "@cove/gen-ts/cove/toolbox/v1/lsp_service_pb.js";
import type { DaemonContext, ServiceModule } from "../context.js";
import { type DocumentReader, MAX_DOCUMENT_BYTES } from "../domain/lsp-document.js";
import type { Diagnostic, LspSymbolInfo, Position, Range } from "../domain/lsp-results.js";
import { type LspLanguage, type LspServer, LspServerManager } from "../domain/lsp-server.js";
import { resolvePath } from "../domain/paths.js";
import { ProcessManager, readSandboxEnv } from "../domain/process-manager.js";
import type { OsUser } from "../domain/users.js";
import { timeoutMs, timestamp } from "./convert.js";

/** How long Diagnostics waits when the request does not say, in ms. */
const DEFAULT_DIAGNOSTICS_WAIT_MS = 10_000;
/** The longest Diagnostics may wait, in ms. */
const MAX_DIAGNOSTICS_WAIT_MS = 60_000;

const LANGUAGES: readonly LspLanguage[] = ["python", "javascript", "typescript"];

function language(id: string): LspLanguage {
  const name = id.toLowerCase();
  if (!(LANGUAGES as readonly string[]).includes(name)) {
    throw invalidArgument("language_id", 'choose "python", "javascript" or "typescript"');
  }
  return name as LspLanguage;
}

function serverProto(server: LspServer): MessageInitShape<typeof LspServerSchema> {
  return {
    serverId: server.id,
    languageId: server.spec.language,
    rootPath: server.spec.root,
    pid: server.processId,
    startTime: timestamp(server.startTime),
  };
}

function position(p: { line: number; character: number } | undefined): Position {
  return { line: p?.line ?? 0, character: p?.character ?? 0 };
}

const rangeProto = (r: Range): MessageInitShape<typeof LspRangeSchema> => ({
  start: r.start,
  end: r.end,
});

const symbolProto = (s: LspSymbolInfo): MessageInitShape<typeof LspSymbolSchema> => ({
  name: s.name,
  kind: s.kind,
  path: s.path,
  range: rangeProto(s.range),
  containerName: s.containerName,
});

const diagnosticProto = (d: Diagnostic): MessageInitShape<typeof LspDiagnosticSchema> => ({
  range: rangeProto(d.range),
  severity: d.severity,
  code: d.code,
  source: d.source,
  message: d.message,
});

/** LspHandler implements LspService over the LspServerManager. */
export class LspHandler implements ServiceImpl<typeof LspService> {
  constructor(
    private readonly ctx: DaemonContext,
    private readonly servers: LspServerManager,
  ) {}

  private user(): OsUser | undefined {
    const wanted = this.ctx.config.defaultUser;
    return wanted ? this.ctx.users.lookup(wanted) : undefined;
  }

  async startLspServer(req: StartLspServerRequest) {
    const lang = language(req.languageId);
    const user = this.user();
    const home = user?.home ?? this.ctx.config.home;
    const root = resolvePath(req.rootPath, home, "root_path");
    const server = await this.servers.start(lang, root, user);
    return { server: serverProto(server) };
  }

  async stopLspServer(req: StopLspServerRequest) {
    await this.servers.stop(req.serverId);
    return {};
  }

  async listLspServers() {
    return { servers: this.servers.list().map(serverProto) };
  }

  async didOpen(req: DidOpenRequest) {
    if (Buffer.byteLength(req.text, "utf8") > MAX_DOCUMENT_BYTES) {
      throw invalidArgument("text", "must be at most 8 MiB");
    }
    await this.servers.get(req.serverId).didOpen(req.path, req.text, req.languageId);
    return {};
  }

  async didChange(req: DidChangeRequest) {
    await this.servers.get(req.serverId).didChange(req.path, req.text);
    return {};
  }

  async didClose(req: DidCloseRequest) {
    await this.servers.get(req.serverId).didClose(req.path);
    return {};
  }

  async completions(req: CompletionsRequest) {
    const res = await this.servers.get(req.serverId).completions(req.path, position(req.position));
    return { items: res.items, isIncomplete: res.isIncomplete };
  }

  async hover(req: HoverRequest) {
    const res = await this.servers.get(req.serverId).hover(req.path, position(req.position));
    return {
      contents: res.contents,
      markdown: res.markdown,
      range: res.range ? rangeProto(res.range) : undefined,
    };
  }

  async definition(req: DefinitionRequest) {
    const locations = await this.servers
      .get(req.serverId)
      .definition(req.path, position(req.position));
    return { locations: locations.map((l) => ({ path: l.path, range: rangeProto(l.range) })) };
  }

  async diagnostics(req: DiagnosticsRequest) {
    const server = this.servers.get(req.serverId);
    let wait = DEFAULT_DIAGNOSTICS_WAIT_MS;
    if (req.wait !== undefined) {
      wait = timeoutMs(req.wait, 0, "wait") ?? 0;
      if (wait > MAX_DIAGNOSTICS_WAIT_MS) throw invalidArgument("wait", "must be at most 60 s");
    }
    const res = await server.diagnostics(req.path, wait);
    return { diagnostics: res.items.map(diagnosticProto), current: res.current };
  }

  async documentSymbols(req: DocumentSymbolsRequest) {
    const symbols = await this.servers.get(req.serverId).documentSymbols(req.path);
    return { symbols: symbols.map(symbolProto) };
  }

  async workspaceSymbols(req: WorkspaceSymbolsRequest) {
    const symbols = await this.servers.get(req.serverId).workspaceSymbols(req.query);
    return { symbols: symbols.map(symbolProto) };
  }

  async sendLspMessage(req: SendLspMessageRequest) {
    if (Buffer.byteLength(req.json, "utf8") > MAX_DOCUMENT_BYTES) {
      throw resourceExhausted("PAYLOAD_TOO_LARGE", "json: a message may be at most 8 MiB", {
        field: "json",
        limit: String(MAX_DOCUMENT_BYTES),
      });
    }
    const responseJson = await this.servers.get(req.serverId).sendRaw(req.json);
    return { responseJson };
  }

  async *watchLspMessages(req: WatchLspMessagesRequest, ctx: { signal: AbortSignal }) {
    const queue = this.servers.get(req.serverId).watch(ctx.signal);
    for await (const json of withKeepalive(queue, this.ctx.config.limits.keepaliveMs, () => null)) {
      if (json === null) yield { event: { case: "keepalive" as const, value: {} } };
      else yield { event: { case: "json" as const, value: json } };
    }
  }
}

/**
 * createLspModule mounts LspService with its own process manager; documents opened without
 * text are read by `readDocument`, as the user the servers run as.
 */
export function createLspModule(ctx: DaemonContext, readDocument: DocumentReader): ServiceModule {
  const processes = new ProcessManager(
    ctx.config.limits,
    readSandboxEnv(ctx.config.sandboxEnvFile),
    ctx.config.initPath,
  );
  const servers = new LspServerManager(
    processes,
    ctx.config.limits.outputBufferBytes,
    readDocument,
  );
  return {
    service: LspService,
    impl: new LspHandler(ctx, servers),
    async close() {
      await servers.close();
    },
  };
}
