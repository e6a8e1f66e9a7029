// The EdgeRouteResolver against a fake EdgeService over a real Connect transport: what is
// cached and for how long, what invalidates it, how refusals reach the caller, and how
// activity is batched.
import { createGrpcTransport } from "@connectrpc/connect-node";
import { CoveError, createLogger } from "@cove/common";
import { RouteChangeKind } from "@cove/gen-ts/cove/edge/v1/edge_pb.js";
import { SandboxState } from "@cove/gen-ts/cove/sandbox/v1/sandbox_pb.js";
import {
  createEdgeRouteResolver,
  type EdgeRouteResolver,
  type EdgeRouteResolverOptions,
} from "../src/domain/edge-route-resolver.js";
import type { RouteQuery } from "../src/domain/routes.js";
import { FakeEdge, PROXY_TOKEN, waitFor } from "./edge-harness.js";

const SBX = "cachesandbox01";
const KEY = "cove_sk_cache_key";
let edge: FakeEdge;
const resolvers: EdgeRouteResolver[] = [];

beforeAll(async () => {
  edge = new FakeEdge();
  await edge.start();
  edge.sandboxes.set(SBX, {
    sandboxId: SBX,
    organizationId: "org-c",
    runnerId: "runner-9",
    gatewayUrl: "http://127.0.0.1:9",
    public: false,
    state: SandboxState.STARTED,
  });
  edge.credentials.set(KEY, { id: "key_c", kind: "apiKey", organizationId: "org-c" });
});

afterEach(async () => {
  await Promise.all(resolvers.splice(0).map((r) => r.close()));
  edge.cacheTtlMs = 30_000;
});

afterAll(async () => {
  await edge.close();
});

function resolver(overrides: Partial<EdgeRouteResolverOptions> = {}): EdgeRouteResolver {
  const r = createEdgeRouteResolver({
    transport: createGrpcTransport({ baseUrl: edge.url }),
    proxyToken: PROXY_TOKEN,
    proxyId: "resolver-test",
    logger: createLogger({ level: "silent" }),
    watchBackoffMs: { min: 20, max: 100 },
    activityIntervalMs: 50,
    ...overrides,
  });
  resolvers.push(r);
  return r;
}

const query = (overrides: Partial<RouteQuery> = {}): RouteQuery => ({
  sandboxId: SBX,
  access: "toolbox",
  port: 0,
  credential: { kind: "apiKey", secret: KEY },
  clientIp: "127.0.0.1",
  ...overrides,
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function refusal(call: Promise<unknown>): Promise<CoveError> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof CoveError)) throw new Error(`expected a CoveError, got ${err}`);
  return err;
}

test("an answer is reused for cache_ttl, then asked for again", async () => {
  edge.cacheTtlMs = 300;
  const r = resolver();
  await waitFor(() => r.watching);
  const before = edge.resolveCount(SBX);
  const route = await r.resolve(query());
  expect(route).toMatchObject({
    sandboxId: SBX,
    runnerId: "runner-9",
    gatewayUrl: "http://127.0.0.1:9",
    credentialId: "key_c",
  });
  await r.resolve(query());
  expect(edge.resolveCount(SBX)).toBe(before + 1);
  await sleep(350);
  await r.resolve(query());
  expect(edge.resolveCount(SBX)).toBe(before + 2);
});

test("cache_ttl 0 means every call asks", async () => {
  edge.cacheTtlMs = 0;
  const r = resolver();
  await waitFor(() => r.watching);
  const before = edge.resolveCount(SBX);
  await r.resolve(query());
  await r.resolve(query());
  expect(edge.resolveCount(SBX)).toBe(before + 2);
});

test("the cache key includes the credential: another secret is asked about, not reused", async () => {
  const r = resolver();
  await waitFor(() => r.watching);
  await r.resolve(query());
  const err = await refusal(
    r.resolve(query({ credential: { kind: "apiKey", secret: "cove_sk_wrong" } })),
  );
  expect(err).toMatchObject({ code: "unauthenticated", reason: "API_KEY_INVALID" });
});

test("an answer is never used past the credential's expiry", async () => {
  const token = "cvt_expiring";
  edge.credentials.set(token, {
    id: "tok_exp",
    kind: "sandboxToken",
    organizationId: "org-c",
    sandboxId: SBX,
    expiresAt: Date.now() + 300,
  });
  const r = resolver();
  await waitFor(() => r.watching);
  const q = query({ credential: { kind: "sandboxToken", secret: token } });
  const route = await r.resolve(q);
  expect(route.expiresAt).toBeLessThanOrEqual(Date.now() + 300);
  await sleep(350);
  const err = await refusal(r.resolve(q));
  expect(err).toMatchObject({ code: "unauthenticated", reason: "TOKEN_EXPIRED" });
});

test("identical concurrent lookups share one call", async () => {
  const r = resolver();
  await waitFor(() => r.watching);
  const before = edge.resolveCount(SBX);
  await Promise.all(Array.from({ length: 20 }, () => r.resolve(query())));
  expect(edge.resolveCount(SBX)).toBe(before + 1);
});

test("refusals keep the server's code, reason, message and metadata, and are remembered briefly", async () => {
  const r = resolver({ refusalTtlMs: 200 });
  await waitFor(() => r.watching);
  const q = query({ sandboxId: "nosuchsandbox" });
  const err = await refusal(r.resolve(q));
  expect(err).toMatchObject({
    code: "notFound",
    reason: "SANDBOX_NOT_FOUND",
    message: "sandbox nosuchsandbox not found",
    metadata: { sandboxId: "nosuchsandbox" },
  });
  const before = edge.resolveCount("nosuchsandbox");
  await refusal(r.resolve(q));
  expect(edge.resolveCount("nosuchsandbox")).toBe(before);
  await sleep(250);
  await refusal(r.resolve(q));
  expect(edge.resolveCount("nosuchsandbox")).toBe(before + 1);
});

test("a wrong proxy token is the proxy's problem: UNAVAILABLE, not UNAUTHENTICATED", async () => {
  const r = createEdgeRouteResolver({
    transport: createGrpcTransport({ baseUrl: edge.url }),
    proxyToken: "not-the-token",
    proxyId: "bad",
    logger: createLogger({ level: "silent" }),
    watch: false,
  });
  resolvers.push(r);
  const err = await refusal(r.resolve(query()));
  expect(err.code).toBe("unavailable");
});

test("an unreachable server is UNAVAILABLE", async () => {
  const r = createEdgeRouteResolver({
    transport: createGrpcTransport({ baseUrl: "http://127.0.0.1:9" }),
    proxyToken: PROXY_TOKEN,
    proxyId: "down",
    logger: createLogger({ level: "silent" }),
    watch: false,
  });
  resolvers.push(r);
  const err = await refusal(r.resolve(query()));
  expect(err.code).toBe("unavailable");
});

test("without a healthy watch, cached answers last only a few seconds", async () => {
  const r = resolver({ watch: false, unwatchedTtlMs: 150 });
  const before = edge.resolveCount(SBX);
  await r.resolve(query());
  await r.resolve(query());
  expect(edge.resolveCount(SBX)).toBe(before + 1);
  await sleep(200);
  await r.resolve(query());
  expect(edge.resolveCount(SBX)).toBe(before + 2);
});

test("invalidations drop by sandbox, credential and runner id, and tell listeners", async () => {
  const r = resolver();
  await waitFor(() => r.watching);
  const changes: { sandboxId: string; credentialId: string; runnerId: string }[] = [];
  r.onInvalidate((change) => changes.push(change));
  const count = () => edge.resolveCount(SBX);
  const cases = [
    { kind: RouteChangeKind.SANDBOX_STATE, sandboxId: SBX, state: SandboxState.STOPPING },
    { kind: RouteChangeKind.CREDENTIAL_REVOKED, credentialId: "key_c" },
    { kind: RouteChangeKind.RUNNER, runnerId: "runner-9" },
  ];
  for (const change of cases) {
    await r.resolve(query());
    const before = count();
    await r.resolve(query());
    expect(count()).toBe(before);
    edge.invalidate(change);
    await waitFor(() => changes.length > 0);
    changes.length = 0;
    await r.resolve(query());
    expect(count()).toBe(before + 1);
  }
  // An unrelated invalidation keeps the answer.
  const before = count();
  edge.invalidate({
    kind: RouteChangeKind.SANDBOX_STATE,
    sandboxId: "someoneelse",
    state: SandboxState.STOPPED,
  });
  await waitFor(() => changes.length > 0);
  await r.resolve(query());
  expect(count()).toBe(before);
  // A sandbox that became STARTED drops answers but has no connections to close.
  changes.length = 0;
  edge.invalidate({
    kind: RouteChangeKind.SANDBOX_STATE,
    sandboxId: SBX,
    state: SandboxState.STARTED,
  });
  await sleep(100);
  expect(changes).toEqual([]);
  await r.resolve(query());
  expect(count()).toBe(before + 1);
});

test("when the watch ends, the cache is dropped and the watch comes back", async () => {
  const r = resolver();
  await waitFor(() => r.watching);
  await r.resolve(query());
  const before = edge.resolveCount(SBX);
  edge.endWatches();
  await waitFor(() => !r.watching);
  await waitFor(() => r.watching);
  await r.resolve(query());
  expect(edge.resolveCount(SBX)).toBe(before + 1);
});

test("a watch silent for longer than the idle limit is treated as broken and reopened", async () => {
  const r = resolver({ watchIdleMs: 150 });
  await waitFor(() => r.watching);
  const opens = edge.watchOpens;
  // The fake sends no keepalives, so the stream goes quiet after its first reset.
  await waitFor(() => edge.watchOpens >= opens + 2, 3_000);
});

test("activity goes out in batches of at most 1000, latest time per sandbox, and is flushed on close", async () => {
  const r = resolver({ activityIntervalMs: 100 });
  const batchesBefore = edge.batches.length;
  for (let i = 0; i < 2500; i++) r.recordActivity(`busy${i}`);
  r.recordActivity("busy0"); // repeated: still one entry
  await waitFor(() => edge.batches.length >= batchesBefore + 2, 3_000);
  const sent = edge.batches.slice(batchesBefore);
  expect(Math.max(...sent)).toBeLessThanOrEqual(1000);
  await r.close();
  const total = edge.batches.slice(batchesBefore).reduce((sum, n) => sum + n, 0);
  expect(total).toBe(2500);
});
