// Walks every method of every cove.* service in the generated descriptors with minimal keys (one
// scope each) behind the API server's real interceptors, and checks that a key reaches exactly
// the methods its scope allows. Every service is registered with no implementation, so a call
// that auth lets through answers UNIMPLEMENTED from the handler; one it refuses answers
// PERMISSION_DENIED. New RPCs are covered as soon as they are generated.
import * as fs from "node:fs";
import * as path from "node:path";
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { createLogger, type GrpcServer, startGrpcServer } from "@cove/common";
import { ApiKeyManager, ServiceCredentials } from "../src/domain/iam/api-keys.js";
import { AuditLog } from "../src/domain/iam/audit.js";
import {
  GRANTABLE_SCOPES,
  hasScope,
  METHOD_RULES,
  methodRule,
  OPERATOR_SCOPE,
} from "../src/domain/iam/scopes.js";
import { createApiInterceptors } from "../src/interceptors/index.js";
import { createMemorySharedState } from "../src/shared/memory-state.js";
import { createTestDatabase, type TestDatabase } from "./database.js";
import { seedOrg, withHeaders } from "./iam-harness.js";

/** Every service descriptor generated under gen/ts/cove. */
async function coveServices(): Promise<DescService[]> {
  const root = path.resolve(__dirname, "../../gen/ts/cove");
  const services: DescService[] = [];
  for (const area of fs.readdirSync(root)) {
    const dir = path.join(root, area, "v1");
    for (const file of fs.readdirSync(dir).filter((f) => f.endsWith("_service_pb.ts"))) {
      const mod = (await import(path.join(dir, file))) as Record<string, unknown>;
      for (const value of Object.values(mod)) {
        if ((value as DescService | undefined)?.kind === "service")
          services.push(value as DescService);
      }
    }
  }
  return services;
}

/** call invokes one method with an empty request of whatever streaming kind it is. */
async function call(
  client: Record<string, (...args: unknown[]) => unknown>,
  method: DescMethod,
): Promise<void> {
  const fn = client[method.localName];
  if (!fn) throw new Error(`no client method ${method.localName}`);
  const none = (async function* () {})();
  switch (method.methodKind) {
    case "unary":
      await fn({});
      return;
    case "client_streaming":
      await fn(none);
      return;
    case "server_streaming":
      for await (const _ of fn({}) as AsyncIterable<unknown>) break;
      return;
    case "bidi_streaming":
      for await (const _ of fn(none) as AsyncIterable<unknown>) break;
      return;
  }
}

/** reached says whether a call got past auth to the (empty) handler. */
async function reached(secret: string, baseUrl: string, method: DescMethod): Promise<boolean> {
  const transport = createConnectTransport({
    baseUrl,
    httpVersion: "2",
    interceptors: [withHeaders({ authorization: `Bearer ${secret}` })],
  });
  const client = createClient(method.parent, transport) as unknown as Record<
    string,
    (...args: unknown[]) => unknown
  >;
  try {
    await call(client, method);
  } catch (err) {
    const code = ConnectError.from(err).code;
    if (code === Code.Unimplemented) return true;
    if (code === Code.PermissionDenied || code === Code.Unauthenticated) return false;
    throw new Error(`${method.parent.typeName}/${method.name}: unexpected code ${Code[code]}`);
  }
  throw new Error(`${method.parent.typeName}/${method.name} answered without a handler`);
}

let t: TestDatabase;
let server: GrpcServer;
let apiKeys: ApiKeyManager;
let methods: DescMethod[];
const shared = createMemorySharedState();

beforeAll(async () => {
  t = await createTestDatabase();
  apiKeys = new ApiKeyManager({ db: t.db, events: shared.events });
  const services = await coveServices();
  methods = services.flatMap((s) => s.methods);
  server = await startGrpcServer(
    {
      services,
      routes: (router) => {
        for (const service of services) router.service(service, {});
      },
      interceptors: createApiInterceptors({
        logger: createLogger({ level: "silent" }),
        shared,
        apiKeys,
        credentials: new ServiceCredentials({ db: t.db }),
        audit: new AuditLog({ db: t.db }),
        limits: {
          reads: { points: 100_000, durationMs: 10_000 },
          writes: { points: 100_000, durationMs: 10_000 },
        },
      }),
    },
    { port: 0 },
  );
});
afterAll(async () => {
  await server?.close();
  await apiKeys?.close();
  await shared.close();
  await t?.drop();
});

test("every API-key method names the scope it needs", () => {
  const scopeless = Object.entries(METHOD_RULES)
    .filter(([, rule]) => rule.auth === "apiKey" && !rule.scope)
    .map(([procedure]) => procedure);
  expect(scopeless).toEqual([]);
});

test("a read-only key reaches only the sandbox reads", async () => {
  const key = await seedOrg(t.db, { scopes: ["sandboxes:read"] });
  const allowed: string[] = [];
  for (const method of methods) {
    if (await reached(key.secret, server.url, method)) {
      allowed.push(`${method.parent.typeName}/${method.name}`);
    }
  }
  expect(allowed.sort()).toEqual([
    "cove.sandbox.v1.SandboxService/GetSandbox",
    "cove.sandbox.v1.SandboxService/ListSandboxes",
    "cove.sandbox.v1.SandboxService/WatchSandbox",
  ]);
});

test.each([...GRANTABLE_SCOPES, OPERATOR_SCOPE])(
  "a key with only %s reaches exactly the methods that scope allows",
  async (scope) => {
    const key = await seedOrg(t.db, { scopes: [scope] });
    const wrong: string[] = [];
    let allowedCount = 0;
    for (const method of methods) {
      const procedure = `${method.parent.typeName}/${method.name}`;
      const rule = methodRule(procedure);
      const expected = rule?.auth === "apiKey" && !!rule.scope && hasScope([scope], rule.scope);
      if (expected) allowedCount++;
      if ((await reached(key.secret, server.url, method)) !== expected) {
        wrong.push(`${procedure} ${expected ? "refused" : "allowed"}`);
      }
    }
    expect(wrong).toEqual([]);
    expect(allowedCount).toBeGreaterThan(0);
  },
);
