// Test harness for the proxy's toolbox and preview paths: a FAKE EdgeService (a real Connect
// server on port 0 with a table of sandboxes and credentials), real daemons behind a real
// runner toolbox gateway, the real EdgeRouteResolver, and the proxy itself.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { HandlerContext } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import {
  AsyncQueue,
  CoveError,
  createErrorInterceptor,
  createLogger,
  type GrpcServer,
  startGrpcServer,
} from "@cove/common";
import { AccessKind, type RouteInvalidationSchema } from "@cove/gen-ts/cove/edge/v1/edge_pb.js";
import {
  EdgeService,
  type ResolveSandboxRequest,
  type WatchRoutesResponseSchema,
} from "@cove/gen-ts/cove/edge/v1/edge_service_pb.js";
import { SandboxState } from "@cove/gen-ts/cove/sandbox/v1/sandbox_pb.js";
import { ProcessService } from "@cove/gen-ts/cove/toolbox/v1/process_service_pb.js";
import { startTestDaemon, type TestDaemon } from "../../daemon/test/harness.js";
import {
  startToolboxGateway,
  type ToolboxGateway,
} from "../../runner/src/gateway/toolbox-gateway.js";
import { type Proxy as CoveProxy, startProxy } from "../src/app.js";
import {
  createEdgeRouteResolver,
  type EdgeRouteResolver,
} from "../src/domain/edge-route-resolver.js";

/** The proxy service token the fake edge accepts. */
export const PROXY_TOKEN = "proxy-token-for-tests";
/** The runners' gateway token. */
export const GATEWAY_TOKEN = "gateway-token-for-tests";
/** The preview domain used in tests (never resolved: clients set Host themselves). */
export const PREVIEW_DOMAIN = "preview.test";

/** A sandbox in the fake edge's table. */
export interface FakeSandbox {
  sandboxId: string;
  organizationId: string;
  runnerId: string;
  gatewayUrl: string;
  public: boolean;
  state: SandboxState;
}

/** A credential in the fake edge's table. */
export interface FakeCredential {
  id: string;
  kind: "apiKey" | "sandboxToken" | "previewToken";
  organizationId: string;
  /** Tokens are bound to one sandbox. */
  sandboxId?: string;
  /** Preview tokens are bound to one port. */
  port?: number;
  /** Expiry, ms since the epoch. */
  expiresAt?: number;
}

type Invalidation = MessageInitShape<typeof RouteInvalidationSchema>;
type WatchMessage = MessageInitShape<typeof WatchRoutesResponseSchema>;

/** FakeEdge is an EdgeService with a table, counters and a lever for WatchRoutes. */
export class FakeEdge {
  readonly sandboxes = new Map<string, FakeSandbox>();
  readonly credentials = new Map<string, FakeCredential>();
  /** ResolveSandbox calls per sandbox id. */
  readonly resolves = new Map<string, number>();
  /** Every credential secret ResolveSandbox saw, in order (to check what was sent). */
  readonly seenCredentials: { kind: string | undefined; access: AccessKind }[] = [];
  /** Every RecordActivity entry. */
  readonly activity: { sandboxId: string; at: number }[] = [];
  /** How many WatchRoutes streams were opened. */
  watchOpens = 0;
  /** The size of every RecordActivity batch. */
  readonly batches: number[] = [];
  /** Open WatchRoutes streams. */
  readonly watchers = new Set<AsyncQueue<WatchMessage>>();
  /** The cache_ttl sent with answers. */
  cacheTtlMs = 30_000;
  private server: GrpcServer | undefined;

  /** url is the fake's base URL. */
  get url(): string {
    if (!this.server) throw new Error("not started");
    return this.server.url;
  }

  /** start serves the fake on a loopback port. */
  async start(): Promise<void> {
    const logger = createLogger({ level: "silent" });
    this.server = await startGrpcServer(
      {
        services: [EdgeService],
        routes: (router) =>
          router.service(EdgeService, {
            resolveSandbox: (req, ctx) => this.resolve(req, ctx),
            watchRoutes: (_req, ctx) => this.watch(ctx),
            recordActivity: (req, ctx) => {
              this.checkProxy(ctx);
              this.batches.push(req.entries.length);
              for (const entry of req.entries) {
                this.activity.push({
                  sandboxId: entry.sandboxId,
                  at: Number(entry.lastActivityTime?.seconds ?? 0n) * 1000,
                });
              }
              return { updatedCount: req.entries.length };
            },
          }),
        interceptors: [createErrorInterceptor(logger)],
      },
      { host: "127.0.0.1", port: 0 },
    );
  }

  /** invalidate sends one invalidation to every watching proxy. */
  invalidate(change: Invalidation): void {
    for (const queue of this.watchers)
      queue.push({ event: { case: "invalidation", value: change } });
  }

  /** reset sends a reset to every watching proxy. */
  reset(): void {
    for (const queue of this.watchers) {
      queue.push({ event: { case: "reset", value: { serverTime: timestampFromMs(Date.now()) } } });
    }
  }

  /** endWatches ends every open WatchRoutes stream (as a server restart would). */
  endWatches(): void {
    for (const queue of this.watchers) queue.close();
  }

  /** resolveCount is how often a sandbox was resolved. */
  resolveCount(sandboxId: string): number {
    return this.resolves.get(sandboxId) ?? 0;
  }

  /** close stops the fake (watch streams end). */
  async close(): Promise<void> {
    for (const queue of this.watchers) queue.close();
    await this.server?.close(100);
  }

  private checkProxy(ctx: HandlerContext) {
    if (ctx.requestHeader.get("authorization") !== `Bearer ${PROXY_TOKEN}`) {
      throw new CoveError("unauthenticated", "PROXY_TOKEN_INVALID", "not the proxy's token");
    }
  }

  private async *watch(ctx: HandlerContext): AsyncGenerator<WatchMessage> {
    this.checkProxy(ctx);
    const queue = new AsyncQueue<WatchMessage>();
    this.watchOpens++;
    this.watchers.add(queue);
    const onAbort = () => queue.close();
    ctx.signal.addEventListener("abort", onAbort);
    queue.push({ event: { case: "reset", value: { serverTime: timestampFromMs(Date.now()) } } });
    try {
      yield* queue;
    } finally {
      ctx.signal.removeEventListener("abort", onAbort);
      this.watchers.delete(queue);
    }
  }

  /** resolve follows the order of checks EdgeService.ResolveSandbox documents. */
  private resolve(req: ResolveSandboxRequest, ctx: HandlerContext) {
    this.checkProxy(ctx);
    this.resolves.set(req.sandboxId, this.resolveCount(req.sandboxId) + 1);
    this.seenCredentials.push({ kind: req.credential.case, access: req.access });
    const sandbox = this.sandboxes.get(req.sandboxId);
    const publicPreview = req.access === AccessKind.PREVIEW && sandbox?.public === true;
    let credential: FakeCredential | undefined;
    // 1. Credential.
    if (!publicPreview) {
      if (req.credential.case === undefined) {
        throw new CoveError("unauthenticated", "CREDENTIALS_MISSING", "no credential was sent");
      }
      const secret = req.credential.value;
      credential = this.credentials.get(secret);
      const kind = req.credential.case === "signedUrlToken" ? "previewToken" : req.credential.case;
      if (!credential || credential.kind !== kind) {
        throw kind === "apiKey"
          ? new CoveError("unauthenticated", "API_KEY_INVALID", "the API key is not valid")
          : new CoveError("unauthenticated", "TOKEN_INVALID", "the token is not valid", {
              tokenType: kind,
            });
      }
      if (credential.expiresAt !== undefined && credential.expiresAt <= Date.now()) {
        throw new CoveError("unauthenticated", "TOKEN_EXPIRED", "the token has expired", {
          tokenType: kind,
        });
      }
      if (credential.sandboxId !== undefined && credential.sandboxId !== req.sandboxId) {
        throw new CoveError("unauthenticated", "TOKEN_INVALID", "the token is not valid", {
          tokenType: kind,
        });
      }
    }
    // 2. Sandbox.
    if (!sandbox || (credential && credential.organizationId !== sandbox.organizationId)) {
      throw new CoveError("notFound", "SANDBOX_NOT_FOUND", `sandbox ${req.sandboxId} not found`, {
        sandboxId: req.sandboxId,
      });
    }
    // 3. Permission.
    if (credential?.kind === "previewToken") {
      if (req.access !== AccessKind.PREVIEW) {
        throw new CoveError(
          "permissionDenied",
          "PERMISSION_DENIED",
          "a preview token cannot be used for toolbox access",
        );
      }
      if (credential.port !== undefined && credential.port !== req.port) {
        throw new CoveError(
          "permissionDenied",
          "PERMISSION_DENIED",
          "the token is bound to another port",
          {
            port: String(req.port),
            allowedPort: String(credential.port),
          },
        );
      }
    }
    // 4. State.
    if (sandbox.state !== SandboxState.STARTED) {
      throw new CoveError(
        "failedPrecondition",
        "SANDBOX_STATE_CONFLICT",
        `sandbox ${sandbox.sandboxId} is not started`,
        {
          sandboxId: sandbox.sandboxId,
          allowedStates: "STARTED",
        },
      );
    }
    return {
      sandboxId: sandbox.sandboxId,
      organizationId: sandbox.organizationId,
      state: sandbox.state,
      public: sandbox.public,
      runnerId: sandbox.runnerId,
      toolboxGatewayUrl: sandbox.gatewayUrl,
      allowedPort: credential?.kind === "previewToken" ? (credential.port ?? 0) : 0,
      osUser: "cove",
      cacheTtl: durationFromMs(this.cacheTtlMs),
      credentialId: credential?.id ?? "",
      credentialExpireTime:
        credential?.expiresAt !== undefined ? timestampFromMs(credential.expiresAt) : undefined,
    };
  }
}

/** Everything a proxy test talks to. */
export interface ProxyEnv {
  edge: FakeEdge;
  resolver: EdgeRouteResolver;
  proxy: CoveProxy;
  gateway: ToolboxGateway;
  /** Sandbox "alpha" (organization A, private) and "bravo" (organization B, public). */
  alpha: TestDaemon;
  bravo: TestDaemon;
  /** A scratch directory removed by close. */
  scratch: string;
  close(): Promise<void>;
}

/** Sandbox ids and secrets used by the tests. */
export const ALPHA = "alphasandbox0000001";
export const BRAVO = "bravosandbox0000001";
export const ORG_A_KEY = "cove_sk_orga_0123456789";
export const ORG_B_KEY = "cove_sk_orgb_0123456789";
export const ALPHA_TOKEN = "cvt_alpha_0123456789";

/** startProxyEnv starts two daemons, a gateway, the fake edge, the resolver and the proxy. */
export async function startProxyEnv(): Promise<ProxyEnv> {
  const logger = createLogger({ level: "silent" });
  const [alpha, bravo] = await Promise.all([startTestDaemon(), startTestDaemon()]);
  const sockets = new Map([
    [ALPHA, alpha.socketPath],
    [BRAVO, bravo.socketPath],
  ]);
  const gateway = await startToolboxGateway({
    listen: { host: "127.0.0.1", port: 0 },
    token: GATEWAY_TOKEN,
    resolve: (id) => sockets.get(id),
    logger,
  });
  const edge = new FakeEdge();
  await edge.start();
  const sandbox = (sandboxId: string, organizationId: string, isPublic: boolean): FakeSandbox => ({
    sandboxId,
    organizationId,
    runnerId: "runner-1",
    gatewayUrl: gateway.url,
    public: isPublic,
    state: SandboxState.STARTED,
  });
  edge.sandboxes.set(ALPHA, sandbox(ALPHA, "org-a", false));
  edge.sandboxes.set(BRAVO, sandbox(BRAVO, "org-b", true));
  edge.credentials.set(ORG_A_KEY, { id: "key_a", kind: "apiKey", organizationId: "org-a" });
  edge.credentials.set(ORG_B_KEY, { id: "key_b", kind: "apiKey", organizationId: "org-b" });
  edge.credentials.set(ALPHA_TOKEN, {
    id: "tok_alpha",
    kind: "sandboxToken",
    organizationId: "org-a",
    sandboxId: ALPHA,
  });
  const resolver = createEdgeRouteResolver({
    transport: createGrpcTransport({ baseUrl: edge.url }),
    proxyToken: PROXY_TOKEN,
    proxyId: "proxy-test",
    logger,
    activityIntervalMs: 100,
    watchBackoffMs: { min: 20, max: 200 },
  });
  const proxy = await startProxy({
    listen: { host: "127.0.0.1", port: 0 },
    edge: resolver,
    gatewayToken: GATEWAY_TOKEN,
    previewDomain: PREVIEW_DOMAIN,
    logger,
  });
  await waitFor(() => resolver.watching);
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "cove-proxy-test-"));
  return {
    edge,
    resolver,
    proxy,
    gateway,
    alpha,
    bravo,
    scratch,
    async close() {
      await proxy.close(100);
      await resolver.close();
      await gateway.close(100);
      await edge.close();
      await Promise.all([alpha.close(), bravo.close()]);
      fs.rmSync(scratch, { recursive: true, force: true });
    },
  };
}

/** waitFor polls a condition. */
export async function waitFor(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The app the preview tests run "in the sandbox": echoes requests, echoes WebSocket frames. */
const APP_SOURCE = String.raw`
const http = require("node:http");
const crypto = require("node:crypto");
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks);
    if (req.url.startsWith("/redirect")) {
      const to = new URL(req.url, "http://x").searchParams.get("to");
      res.writeHead(302, { location: to });
      res.end();
      return;
    }
    const payload = JSON.stringify({
      method: req.method,
      url: req.url,
      headers: req.headers,
      bodyLength: body.length,
      bodySha256: crypto.createHash("sha256").update(body).digest("hex"),
    });
    res.writeHead(200, { "content-type": "application/json", "set-cookie": "appcookie=1; Path=/" });
    res.end(payload);
  });
});
server.on("upgrade", (req, socket, head) => {
  const accept = crypto
    .createHash("sha1")
    .update(req.headers["sec-websocket-key"] + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")
    .digest("base64");
  const seen = Buffer.from(JSON.stringify({ url: req.url, headers: req.headers })).toString("base64");
  socket.write(
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      "Sec-WebSocket-Accept: " + accept + "\r\nX-Seen: " + seen + "\r\n\r\n",
  );
  let buf = head;
  const onData = (data) => {
    buf = Buffer.concat([buf, data]);
    for (;;) {
      if (buf.length < 2) return;
      const opcode = buf[0] & 0x0f;
      let len = buf[1] & 0x7f;
      let off = 2;
      if (len === 126) {
        if (buf.length < 4) return;
        len = buf.readUInt16BE(2);
        off = 4;
      }
      const masked = (buf[1] & 0x80) !== 0;
      const mask = masked ? buf.subarray(off, off + 4) : undefined;
      if (masked) off += 4;
      if (buf.length < off + len) return;
      const payload = Buffer.from(buf.subarray(off, off + len));
      if (mask) for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i % 4];
      buf = buf.subarray(off + len);
      if (opcode === 8) {
        socket.end(Buffer.from([0x88, 0]));
        return;
      }
      const header = payload.length < 126 ? Buffer.from([0x81, payload.length]) : Buffer.from([0x81, 126, payload.length >> 8, payload.length & 0xff]);
      socket.write(Buffer.concat([header, payload]));
    }
  };
  socket.on("data", onData);
  if (head.length) onData(Buffer.alloc(0));
});
server.listen(0, "127.0.0.1", () => console.log("listening " + server.address().port));
`;

/**
 * startApp starts the echo app inside a test daemon (ProcessService.Start; the test daemon runs
 * on this host, so the "sandbox" port is a loopback port here) and returns its port.
 */
export async function startApp(daemon: TestDaemon, scratch: string, name: string): Promise<number> {
  const file = path.join(scratch, `${name}.cjs`);
  fs.writeFileSync(file, APP_SOURCE);
  const processes = daemon.client(ProcessService);
  for await (const res of processes.start({
    program: { case: "argv", value: { args: [process.execPath, file] } },
    tag: name,
  })) {
    const event = res.event?.event;
    if (event?.case === "data" && event.value.output.case === "stdout") {
      const match = /listening (\d+)/.exec(Buffer.from(event.value.output.value).toString());
      if (match) return Number(match[1]);
    }
    if (event?.case === "end") throw new Error("the app exited");
  }
  throw new Error("the app's stream ended");
}
