/**
 * The proxy's RouteResolver over the API server's cove.edge.v1.EdgeService: ResolveSandbox
 * answers cached per (sandbox, access, port, credential hash), WatchRoutes invalidations, and
 * RecordActivity batches. This is the one place in the proxy's domain that speaks Connect: it
 * turns every EdgeService failure into a CoveError so that nothing above it has to.
 */
import * as crypto from "node:crypto";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { durationMs, timestampDate, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import {
  CoveError,
  type ErrorCode,
  type ErrorReasonName,
  type Logger,
  parseErrorReasonName,
} from "@cove/common";
import {
  AccessKind as AccessKindProto,
  RouteChangeKind,
  type RouteInvalidation,
} from "@cove/gen-ts/cove/edge/v1/edge_pb.js";
import {
  EdgeService,
  type ResolveSandboxRequest,
  type ResolveSandboxRequestSchema,
  type ResolveSandboxResponse,
} from "@cove/gen-ts/cove/edge/v1/edge_service_pb.js";
import { SandboxState } from "@cove/gen-ts/cove/sandbox/v1/sandbox_pb.js";
import { ErrorInfoSchema } from "@cove/gen-ts/google/rpc/error_details_pb.js";
import type { Credential, Route, RouteQuery, RouteResolver } from "./routes.js";

/** Options for createEdgeRouteResolver. */
export interface EdgeRouteResolverOptions {
  /** A transport to the API server (HTTP/2: WatchRoutes is a long server stream). */
  transport: Transport;
  /** The proxy's service token, sent as "authorization: Bearer <token>". */
  proxyToken: string;
  /** Names this proxy process in the server's logs (WatchRoutesRequest.proxy_id). */
  proxyId: string;
  /** Where the resolver logs. */
  logger: Logger;
  /** Deadline of one ResolveSandbox call. Default 10 s. */
  resolveTimeoutMs?: number;
  /** Cache lifetime when the server sends no cache_ttl. Default 30 s. */
  defaultCacheTtlMs?: number;
  /** How long cached answers stay usable while no WatchRoutes stream is healthy. Default 5 s. */
  unwatchedTtlMs?: number;
  /** How long NOT_FOUND, UNAUTHENTICATED and PERMISSION_DENIED are remembered. Default 5 s. */
  refusalTtlMs?: number;
  /** Cached answers and refusals kept at most (oldest dropped first). Default 20 000 each. */
  maxEntries?: number;
  /** A WatchRoutes stream silent for this long is treated as broken. Default 45 s. */
  watchIdleMs?: number;
  /** Reconnect backoff bounds for WatchRoutes. Default 1 s to 30 s, jittered. */
  watchBackoffMs?: { min: number; max: number };
  /** How often activity is sent. Default 5 s. */
  activityIntervalMs?: number;
  /** Entries per RecordActivity call. Default 1000 (the server's limit). */
  activityBatchSize?: number;
  /** Whether to open WatchRoutes at all. Default true (tests of the cache alone turn it off). */
  watch?: boolean;
  /** The clock, in ms since the epoch. Default Date.now. */
  now?: () => number;
}

/** An EdgeRouteResolver is a RouteResolver that can also say whether its watch is healthy. */
export interface EdgeRouteResolver extends RouteResolver {
  /** watching is true while a WatchRoutes stream is open and has sent its first reset. */
  readonly watching: boolean;
}

const accessKinds: Record<RouteQuery["access"], AccessKindProto> = {
  toolbox: AccessKindProto.TOOLBOX,
  preview: AccessKindProto.PREVIEW,
  ssh: AccessKindProto.SSH,
};

/** Connect codes whose errors are about the end user and reach them unchanged. */
const relayedCodes = new Map<Code, ErrorCode>([
  [Code.Unauthenticated, "unauthenticated"],
  [Code.PermissionDenied, "permissionDenied"],
  [Code.NotFound, "notFound"],
  [Code.FailedPrecondition, "failedPrecondition"],
]);

/** Refusals that may be remembered for a few seconds to blunt floods (per the contract). */
const rememberedCodes = new Set<ErrorCode>(["unauthenticated", "permissionDenied", "notFound"]);

interface CachedRoute {
  route: Route;
  receivedAt: number;
}

interface CachedRefusal {
  error: CoveError;
  until: number;
  sandboxId: string;
  credentialId: string;
  runnerId: string;
}

/** The ids an invalidation matches cached entries by. */
interface RouteIds {
  sandboxId: string;
  credentialId: string;
  runnerId: string;
}

/**
 * createEdgeRouteResolver builds the RouteResolver the proxy uses in production. Answers are
 * cached for the server's cache_ttl (never past the credential's expiry, and at most
 * unwatchedTtlMs while no WatchRoutes stream is healthy); refusals about the caller for
 * refusalTtlMs. Identical concurrent lookups share one call. A WatchRoutes stream drops
 * entries by sandbox, credential or runner id, drops everything on reset and whenever the
 * stream ends, and reconnects with jittered backoff. An answer that was in flight while
 * anything was invalidated is returned but not cached. Activity is batched to RecordActivity.
 */
export function createEdgeRouteResolver(options: EdgeRouteResolverOptions): EdgeRouteResolver {
  const client = createClient(EdgeService, options.transport);
  const logger = options.logger;
  const now = options.now ?? Date.now;
  const resolveTimeoutMs = options.resolveTimeoutMs ?? 10_000;
  const defaultTtlMs = options.defaultCacheTtlMs ?? 30_000;
  const unwatchedTtlMs = options.unwatchedTtlMs ?? 5_000;
  const refusalTtlMs = options.refusalTtlMs ?? 5_000;
  const maxEntries = options.maxEntries ?? 20_000;
  const watchIdleMs = options.watchIdleMs ?? 45_000;
  const backoff = options.watchBackoffMs ?? { min: 1_000, max: 30_000 };
  const activityIntervalMs = options.activityIntervalMs ?? 5_000;
  const batchSize = Math.min(options.activityBatchSize ?? 1000, 1000);
  const headers = { authorization: `Bearer ${options.proxyToken}` };

  const routes = new Map<string, CachedRoute>();
  const refusals = new Map<string, CachedRefusal>();
  const inflight = new Map<string, Promise<Route>>();
  const listeners = new Set<Parameters<RouteResolver["onInvalidate"]>[0]>();
  /** Bumped on every invalidation: answers fetched across a bump are not cached. */
  let epoch = 0;
  let watching = false;
  let closed = false;
  const stop = new AbortController();

  const dropWhere = (match: (entry: RouteIds) => boolean) => {
    epoch++;
    inflight.clear();
    for (const [key, entry] of routes) {
      if (match(entry.route)) routes.delete(key);
    }
    for (const [key, entry] of refusals) {
      if (match(entry)) refusals.delete(key);
    }
  };

  const dropAll = () => {
    epoch++;
    inflight.clear();
    routes.clear();
    refusals.clear();
  };

  const remember = <T>(map: Map<string, T>, key: string, value: T) => {
    map.delete(key);
    map.set(key, value);
    if (map.size > maxEntries) {
      const oldest = map.keys().next();
      if (!oldest.done) map.delete(oldest.value);
    }
  };

  const fresh = (entry: CachedRoute, at: number) =>
    at < entry.route.expiresAt && (watching || at - entry.receivedAt < unwatchedTtlMs);

  const fetchRoute = async (key: string, query: RouteQuery): Promise<Route> => {
    const startedEpoch = epoch;
    const request: MessageInitShape<typeof ResolveSandboxRequestSchema> = {
      sandboxId: query.sandboxId,
      access: accessKinds[query.access],
      port: query.port,
      clientIp: query.clientIp,
      credential: credentialField(query.credential),
    };
    let response: ResolveSandboxResponse;
    try {
      response = await client.resolveSandbox(request, {
        headers,
        timeoutMs: resolveTimeoutMs,
        signal: stop.signal,
      });
    } catch (err) {
      const error = toCoveError(err, logger);
      if (rememberedCodes.has(error.code) && refusalTtlMs > 0 && epoch === startedEpoch) {
        remember(refusals, key, {
          error,
          until: now() + refusalTtlMs,
          sandboxId: query.sandboxId,
          credentialId: "",
          runnerId: "",
        });
      }
      throw error;
    }
    const receivedAt = now();
    const route = toRoute(response, receivedAt, defaultTtlMs);
    if (route.expiresAt > receivedAt && epoch === startedEpoch) {
      remember(routes, key, { route, receivedAt });
    }
    return route;
  };

  // --- WatchRoutes ---------------------------------------------------------------------

  const applyInvalidation = (change: RouteInvalidation) => {
    const { sandboxId, credentialId, runnerId } = change;
    if (!sandboxId && !credentialId && !runnerId) return;
    dropWhere(
      (route) =>
        (sandboxId !== "" && route.sandboxId === sandboxId) ||
        (credentialId !== "" && route.credentialId === credentialId) ||
        (runnerId !== "" && route.runnerId === runnerId),
    );
    // A sandbox that became STARTED has nothing open to close; every other change may.
    const started =
      change.kind === RouteChangeKind.SANDBOX_STATE && change.state === SandboxState.STARTED;
    if (started) return;
    for (const listener of listeners) {
      try {
        listener({ sandboxId, credentialId, runnerId });
      } catch (err) {
        logger.error("an invalidation listener failed", { err });
      }
    }
  };

  const watchOnce = async (): Promise<boolean> => {
    const attempt = new AbortController();
    const onStop = () => attempt.abort();
    stop.signal.addEventListener("abort", onStop);
    let idle: NodeJS.Timeout | undefined;
    const armIdle = () => {
      if (idle) clearTimeout(idle);
      idle = setTimeout(
        () => attempt.abort(new Error("no message within the idle limit")),
        watchIdleMs,
      );
      idle.unref();
    };
    let sawReset = false;
    try {
      armIdle();
      const stream = client.watchRoutes(
        { proxyId: options.proxyId.slice(0, 128) },
        { headers, signal: attempt.signal },
      );
      for await (const message of stream) {
        armIdle();
        const event = message.event;
        if (event.case === "reset") {
          dropAll();
          if (!sawReset) logger.info("watching route changes");
          sawReset = true;
          watching = true;
        } else if (event.case === "invalidation") {
          if (!sawReset) continue; // the contract's first message is a reset; until then, nothing is trusted.
          applyInvalidation(event.value);
        }
      }
      if (!closed) logger.warn("the route watch ended; reconnecting");
    } catch (err) {
      if (!closed) logger.warn("the route watch failed; reconnecting", { err: describe(err) });
    } finally {
      if (idle) clearTimeout(idle);
      stop.signal.removeEventListener("abort", onStop);
      watching = false;
      // Events are not replayed: whatever changed while we were away is unknown.
      dropAll();
    }
    return sawReset;
  };

  const watchLoop = async () => {
    let failures = 0;
    while (!closed) {
      const healthy = await watchOnce();
      if (closed) return;
      failures = healthy ? 0 : failures + 1;
      const ceiling = Math.min(backoff.max, backoff.min * 2 ** Math.min(failures, 16));
      const delay = backoff.min + Math.random() * (ceiling - backoff.min);
      await sleep(delay, stop.signal);
    }
  };

  const watchDone = options.watch === false ? Promise.resolve() : watchLoop();

  // --- RecordActivity ------------------------------------------------------------------

  const activity = new Map<string, number>();
  let sending: Promise<void> | undefined;

  const sendBatch = async (): Promise<void> => {
    if (activity.size === 0) return;
    const batch: [string, number][] = [];
    for (const entry of activity) {
      batch.push(entry);
      if (batch.length >= batchSize) break;
    }
    for (const [sandboxId] of batch) activity.delete(sandboxId);
    try {
      await client.recordActivity(
        {
          entries: batch.map(([sandboxId, at]) => ({
            sandboxId,
            lastActivityTime: timestampFromMs(at),
          })),
        },
        { headers, timeoutMs: 10_000 },
      );
    } catch (err) {
      // Merged into the next batch; the server keeps the later of two times anyway.
      for (const [sandboxId, at] of batch) {
        activity.set(sandboxId, Math.max(at, activity.get(sandboxId) ?? 0));
      }
      logger.warn("recording activity failed; will retry with the next batch", {
        err: describe(err),
        entries: batch.length,
      });
      throw err;
    }
  };

  const flushTick = () => {
    if (sending || activity.size === 0) return;
    sending = sendBatch()
      .catch(() => {})
      .finally(() => {
        sending = undefined;
      });
  };
  const activityTimer = setInterval(flushTick, activityIntervalMs);
  activityTimer.unref();

  return {
    get watching() {
      return watching;
    },

    resolve(query) {
      if (closed) return Promise.reject(unavailableError("the proxy is shutting down"));
      const key = cacheKey(query);
      const at = now();
      const cached = routes.get(key);
      if (cached) {
        if (fresh(cached, at)) return Promise.resolve(cached.route);
        routes.delete(key);
      }
      const refused = refusals.get(key);
      if (refused) {
        if (at < refused.until) return Promise.reject(refused.error);
        refusals.delete(key);
      }
      const pending = inflight.get(key);
      if (pending) return pending;
      const call = fetchRoute(key, query).finally(() => {
        if (inflight.get(key) === call) inflight.delete(key);
      });
      inflight.set(key, call);
      return call;
    },

    onInvalidate(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    recordActivity(sandboxId) {
      if (sandboxId === "") return;
      activity.set(sandboxId, now());
    },

    async close() {
      if (closed) return;
      closed = true;
      clearInterval(activityTimer);
      stop.abort();
      await watchDone.catch(() => {});
      await sending;
      // Flush what is left, batch by batch; give up after a failure (the server forgives).
      while (activity.size > 0) {
        try {
          await sendBatch();
        } catch {
          break;
        }
      }
      dropAll();
    },
  };
}

/** cacheKey identifies an answer: never the secret itself, only its hash. */
function cacheKey(query: RouteQuery): string {
  const credential =
    query.credential.kind === "none"
      ? "none"
      : `${query.credential.kind}:${crypto.createHash("sha256").update(query.credential.secret).digest("hex")}`;
  return `${query.sandboxId}\u0000${query.access}\u0000${query.port}\u0000${credential}`;
}

function credentialField(credential: Credential): ResolveSandboxRequest["credential"] {
  switch (credential.kind) {
    case "apiKey":
      return { case: "apiKey", value: credential.secret };
    case "sandboxToken":
      return { case: "sandboxToken", value: credential.secret };
    case "previewToken":
      return { case: "previewToken", value: credential.secret };
    case "signedUrlToken":
      return { case: "signedUrlToken", value: credential.secret };
    case "sshToken":
      return { case: "sshToken", value: credential.secret };
    case "none":
      return { case: undefined };
  }
}

/** toRoute turns a ResolveSandboxResponse into a Route whose expiresAt honours ttl and expiry. */
function toRoute(res: ResolveSandboxResponse, receivedAt: number, defaultTtlMs: number): Route {
  const ttlMs = res.cacheTtl ? durationMs(res.cacheTtl) : defaultTtlMs;
  let expiresAt = receivedAt + Math.max(0, ttlMs);
  if (res.credentialExpireTime) {
    expiresAt = Math.min(expiresAt, timestampDate(res.credentialExpireTime).getTime());
  }
  return {
    sandboxId: res.sandboxId,
    organizationId: res.organizationId,
    public: res.public,
    runnerId: res.runnerId,
    gatewayUrl: res.toolboxGatewayUrl,
    allowedPort: res.allowedPort,
    osUser: res.osUser,
    credentialId: res.credentialId,
    expiresAt,
  };
}

/**
 * toCoveError maps an EdgeService failure to what the end user sees. Refusals about the end
 * user (UNAUTHENTICATED other than PROXY_TOKEN_INVALID, PERMISSION_DENIED, NOT_FOUND,
 * FAILED_PRECONDITION, RESOURCE_EXHAUSTED with RATE_LIMITED) keep their code, message, reason
 * and metadata; UNAVAILABLE keeps its reason (e.g. RUNNER_UNAVAILABLE) and message; anything
 * else is the proxy's problem and becomes UNAVAILABLE, with the original logged.
 */
export function toCoveError(err: unknown, logger: Logger): CoveError {
  if (err instanceof CoveError) return err;
  if (!(err instanceof ConnectError)) {
    logger.error("resolving a sandbox failed", { err });
    return unavailableError("the proxy could not check access to the sandbox; try again");
  }
  const info = err.findDetails(ErrorInfoSchema)[0];
  const reason = parseErrorReasonName(info?.reason);
  const metadata = { ...(info?.metadata ?? {}) };
  const relayed = relayedCodes.get(err.code);
  if (relayed && !(relayed === "unauthenticated" && reason === "PROXY_TOKEN_INVALID")) {
    return new CoveError(relayed, reason ?? defaultReason(relayed), err.rawMessage, metadata);
  }
  if (err.code === Code.ResourceExhausted && reason === "RATE_LIMITED") {
    return new CoveError("resourceExhausted", reason, err.rawMessage, metadata);
  }
  if (err.code === Code.Unavailable && reason !== undefined) {
    return new CoveError("unavailable", reason, err.rawMessage, metadata);
  }
  logger.error("the control plane refused the proxy", {
    code: Code[err.code],
    reason,
    message: err.rawMessage,
  });
  return unavailableError("the proxy could not check access to the sandbox; try again");
}

function unavailableError(message: string): CoveError {
  return new CoveError("unavailable", "CONTROL_PLANE_UNAVAILABLE", message);
}

function defaultReason(code: ErrorCode): ErrorReasonName {
  switch (code) {
    case "unauthenticated":
      return "CREDENTIALS_MISSING";
    case "permissionDenied":
      return "PERMISSION_DENIED";
    case "notFound":
      return "SANDBOX_NOT_FOUND";
    case "failedPrecondition":
      return "SANDBOX_STATE_CONFLICT";
    default:
      return "INTERNAL";
  }
}

function describe(err: unknown): string {
  if (err instanceof ConnectError) return `${Code[err.code]}: ${err.rawMessage}`;
  return err instanceof Error ? err.message : String(err);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done);
  });
}
