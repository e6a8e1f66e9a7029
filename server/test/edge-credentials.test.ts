// The proxy's route cache against the real EdgeService and IAM: a cached answer never outlives
// the API key it was given for. Expiry is checked on every request from the cached expiry time;
// a revocation has reached the proxy through WatchRoutes by the time RevokeApiKey answers.
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { CoveError, createLogger } from "@cove/common";
import { EdgeService } from "@cove/gen-ts/cove/edge/v1/edge_service_pb.js";
import {
  createEdgeRouteResolver,
  type EdgeRouteResolver,
} from "../../proxy/src/domain/edge-route-resolver.js";
import type { RouteQuery } from "../../proxy/src/domain/routes.js";
import { EdgeResolver } from "../src/domain/edge/resolver.js";
import { type ApiKeyManager, hashSecret } from "../src/domain/iam/api-keys.js";
import { EdgeHandler } from "../src/handlers/edge-handler.js";
import { newId } from "../src/ids.js";
import { createSharedState } from "../src/shared/create-shared-state.js";
import { createMemorySharedState } from "../src/shared/memory-state.js";
import type { SharedState } from "../src/shared/shared-state.js";
import { createTestDatabase, type TestDatabase } from "./database.js";
import { clientsFor, type IamServer, seedOrg, startIamServer } from "./iam-harness.js";

const PROXY_TOKEN = "edge-credentials-proxy-token";
const redisUrl = process.env.COVE_TEST_REDIS_URL;
let t: TestDatabase;

beforeAll(async () => {
  t = await createTestDatabase();
  await t.db("runners").insert({
    id: "runner-edge",
    token_hash: hashSecret("runner-edge-token"),
    state: "CONNECTED",
    last_heartbeat_time: t.db.fn.now(),
    toolbox_gateway_url: "http://127.0.0.1:9",
  });
});
afterAll(async () => {
  await t?.drop();
});

/**
 * slowDelivery is `shared` as a loaded replica sees it: every event reaches its subscribers
 * only after `delayMs`, so nothing may depend on a bus message arriving quickly.
 */
function slowDelivery(shared: SharedState, delayMs: number): SharedState {
  const events: SharedState["events"] = {
    publish: (channel, event) => shared.events.publish(channel, event),
    subscribe: (channel, handler) =>
      shared.events.subscribe(channel, (event) => {
        setTimeout(() => handler(event), delayMs);
      }),
  };
  return {
    kind: shared.kind,
    rateLimiter: (name, points, durationMs) => shared.rateLimiter(name, points, durationMs),
    locks: shared.locks,
    events,
    kv: shared.kv,
    close: () => shared.close(),
  };
}

/** startReplica starts one API replica: the IAM services and EdgeService on `shared`. */
async function startReplica(shared: SharedState): Promise<IamServer> {
  let iam: IamServer | undefined;
  const apiKeys = () => {
    if (!iam) throw new Error("the replica is not started yet");
    return iam.apiKeys;
  };
  // The replica's key manager is made inside startIamServer; the edge reaches it lazily.
  const lazyKeys = new Proxy({} as ApiKeyManager, {
    get: (_target, name) => {
      const value = (apiKeys() as unknown as Record<string | symbol, unknown>)[name];
      return typeof value === "function" ? value.bind(apiKeys()) : value;
    },
  });
  iam = await startIamServer(t.db, {
    shared,
    proxyTokenHash: hashSecret(PROXY_TOKEN),
    extra: {
      services: [EdgeService],
      routes: (router) => {
        const edge = new EdgeResolver({ db: t.db, apiKeys: lazyKeys });
        router.service(EdgeService, new EdgeHandler(edge, shared.events));
      },
    },
  });
  return iam;
}

const implementations = [
  { name: "in-process", available: true, make: async () => createMemorySharedState() },
  {
    name: "redis",
    available: redisUrl !== undefined,
    make: () => createSharedState({ redisUrl, logger: createLogger({ level: "silent" }) }),
  },
];

describe.each(implementations)("with $name shared state", (impl) => {
  const maybe = impl.available ? test : test.skip;
  // Two replicas: the proxy watches and resolves through one (a slow one: bus events reach it
  // 300 ms late), keys are managed on the other.
  let api: IamServer;
  let edgeReplica: IamServer;
  let resolver: EdgeRouteResolver;
  const shared: SharedState[] = [];

  beforeAll(async () => {
    if (!impl.available) return;
    const first = await impl.make();
    // In process, replicas share one bus object; on Redis each has its own connections.
    const second = impl.name === "redis" ? await impl.make() : first;
    shared.push(first, second);
    api = await startReplica(first);
    edgeReplica = await startReplica(slowDelivery(second, 300));
    resolver = createEdgeRouteResolver({
      transport: createGrpcTransport({ baseUrl: edgeReplica.server.url }),
      proxyToken: PROXY_TOKEN,
      proxyId: "edge-credentials-test",
      logger: createLogger({ level: "silent" }),
      watchBackoffMs: { min: 20, max: 100 },
    });
    const deadline = Date.now() + 10_000;
    while (!resolver.watching && Date.now() < deadline) await sleep(20);
    expect(resolver.watching).toBe(true);
  });
  afterAll(async () => {
    await resolver?.close();
    await edgeReplica?.server.close();
    await api?.server.close();
    await edgeReplica?.apiKeys.close();
    await api?.apiKeys.close();
    for (const state of new Set(shared)) await state.close();
  });

  maybe("a cached route stops working the moment its API key expires", async () => {
    const owner = await seedOrg(t.db);
    const sandboxId = await startedSandbox(owner.orgId);
    const { secret } = await clientsFor(api.server.url, owner.secret).keys.createApiKey({
      name: "short-lived",
      scopes: ["sandboxes:write"],
      expireTime: timestampFromMs(Date.now() + 1_500),
    });
    const route = await resolver.resolve(toolbox(sandboxId, secret));
    expect(route.sandboxId).toBe(sandboxId);
    await sleep(1_700);
    const err = await refusal(resolver.resolve(toolbox(sandboxId, secret)));
    expect(err).toMatchObject({ code: "unauthenticated", reason: "API_KEY_EXPIRED" });
  });

  maybe("RevokeApiKey answers only once the proxy has dropped the key's routes", async () => {
    const owner = await seedOrg(t.db);
    const sandboxId = await startedSandbox(owner.orgId);
    const keys = clientsFor(api.server.url, owner.secret).keys;
    // Several rounds: the ordering must hold every time, not by luck of timing.
    for (let round = 0; round < 5; round++) {
      const { secret, apiKey } = await keys.createApiKey({
        name: `revoked ${round}`,
        scopes: ["sandboxes:write"],
      });
      await resolver.resolve(toolbox(sandboxId, secret));
      await resolver.resolve(toolbox(sandboxId, secret)); // now served from the cache
      await keys.revokeApiKey({ apiKeyId: apiKey?.apiKeyId ?? "" });
      const err = await refusal(resolver.resolve(toolbox(sandboxId, secret)));
      expect(err).toMatchObject({ code: "unauthenticated", reason: "API_KEY_REVOKED" });
    }
  });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** startedSandbox inserts a STARTED sandbox of the organization on the test's runner. */
async function startedSandbox(organizationId: string): Promise<string> {
  const id = newId("sbx");
  await t.db("sandboxes").insert({
    id,
    organization_id: organizationId,
    image: "cove/sandbox:latest",
    state: "STARTED",
    desired_state: "STARTED",
    cpu_millicores: 1000,
    memory_mib: 512,
    disk_mib: 1024,
    runner_id: "runner-edge",
  });
  return id;
}

const toolbox = (sandboxId: string, secret: string): RouteQuery => ({
  sandboxId,
  access: "toolbox",
  port: 0,
  credential: { kind: "apiKey", secret },
  clientIp: "127.0.0.1",
});

async function refusal(call: Promise<unknown>): Promise<CoveError | undefined> {
  return call.then(
    () => undefined,
    (err: unknown) => (err instanceof CoveError ? err : Promise.reject(err)),
  );
}
