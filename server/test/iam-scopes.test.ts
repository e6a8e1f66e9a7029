import * as fs from "node:fs";
import * as path from "node:path";
import type { DescService } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { EdgeService } from "@cove/gen-ts/cove/edge/v1/edge_service_pb.js";
import { RunnerAdminService } from "@cove/gen-ts/cove/runner/v1/runner_admin_service_pb.js";
import { RunnerService } from "@cove/gen-ts/cove/runner/v1/runner_service_pb.js";
import { hashSecret } from "../src/domain/iam/api-keys.js";
import {
  effectiveScopes,
  GRANTABLE_SCOPES,
  hasScope,
  METHOD_RULES,
  methodRule,
} from "../src/domain/iam/scopes.js";
import { kPrincipal, type Principal } from "../src/principal.js";
import { createTestDatabase, type TestDatabase } from "./database.js";
import {
  clientsFor,
  errorInfo,
  expectError,
  type IamServer,
  seedOrg,
  startIamServer,
} from "./iam-harness.js";

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

describe("the access table", () => {
  test("lists every method of every cove.* service, and nothing else", async () => {
    const services = await coveServices();
    expect(services.length).toBeGreaterThanOrEqual(15);
    const procedures = services.flatMap((s) => s.methods.map((m) => `${s.typeName}/${m.name}`));
    const missing = procedures.filter((p) => methodRule(p) === undefined);
    expect(missing).toEqual([]);
    const stale = Object.keys(METHOD_RULES).filter(
      (p) => p.startsWith("cove.") && !procedures.includes(p),
    );
    expect(stale).toEqual([]);
  });

  test("follows the proto's rules for scopes", () => {
    for (const [procedure, rule] of Object.entries(METHOD_RULES)) {
      if (procedure.startsWith("cove.runner.v1.RunnerAdminService/")) {
        expect(rule).toMatchObject({ auth: "apiKey", scope: "operator" });
      }
      if (procedure.startsWith("cove.toolbox.")) {
        expect(rule).toMatchObject({ auth: "toolbox", scope: "sandboxes:write" });
      }
      if (rule.auth === "apiKey" && rule.scope?.endsWith(":read"))
        expect(rule.mutating).toBe(false);
      if (rule.auth === "apiKey" && rule.scope?.endsWith(":write")) {
        // Every write-scoped call except reading ones is audited.
        expect(rule.mutating).toBe(true);
      }
    }
    expect(methodRule("cove.iam.v1.OrganizationService/UpdateQuota")).toMatchObject({
      scope: "operator",
    });
    expect(methodRule("cove.sandbox.v1.SandboxService/GetSandbox")).toMatchObject({
      scope: "sandboxes:read",
      mutating: false,
    });
    expect(methodRule("cove.sandbox.v1.SandboxService/Nope")).toBeUndefined();
    expect(methodRule("toString")).toBeUndefined();
  });

  test('"*" never includes operator; roles bound keys', () => {
    expect(hasScope(["*"], "operator")).toBe(false);
    expect(hasScope(["*"], "audit:read")).toBe(true);
    expect(hasScope(["sandboxes:write"], "sandboxes:read")).toBe(false);
    expect(effectiveScopes(["*", "operator"], "OWNER")).toEqual(["operator", "*"]);
    expect(effectiveScopes(["*"], "MEMBER")).toEqual(
      GRANTABLE_SCOPES.filter((s) => s !== "audit:read"),
    );
    expect(effectiveScopes(["sandboxes:write", "sandboxes:read"], "VIEWER")).toEqual([
      "sandboxes:read",
    ]);
    expect(effectiveScopes(["*"], undefined)).toEqual([]);
  });
});

describe("runner and proxy credentials", () => {
  let t: TestDatabase;
  let iam: IamServer;
  let seen: Principal | undefined;

  beforeAll(async () => {
    t = await createTestDatabase();
    iam = await startIamServer(t.db, {
      proxyTokenHash: hashSecret("proxy-secret"),
      runnerRegistrationTokenHash: hashSecret("fleet-secret"),
      extra: {
        services: [EdgeService, RunnerService, RunnerAdminService],
        routes: (router) => {
          router.service(EdgeService, {
            recordActivity: async (_req, ctx) => {
              seen = ctx.values.get(kPrincipal);
              return { updatedCount: 0 };
            },
          });
          router.service(RunnerAdminService, {
            listRunners: async (_req, ctx) => {
              seen = ctx.values.get(kPrincipal);
              return {};
            },
          });
          router.service(RunnerService, {
            // biome-ignore lint/correctness/useYield: the test only needs the caller, never a reply.
            connect: async function* (requests, ctx) {
              seen = ctx.values.get(kPrincipal);
              for await (const _ of requests) break;
            },
          });
        },
      },
    });
  });
  afterAll(async () => {
    await iam?.close();
    await t?.drop();
  });

  const connect = async (token: string | undefined) => {
    const client = clientsFor(iam.server.url, token).client(RunnerService);
    for await (const _ of client.connect((async function* () {})())) {
      // no messages expected
    }
  };

  test("the proxy token, and nothing else, opens EdgeService", async () => {
    seen = undefined;
    await clientsFor(iam.server.url, "proxy-secret").client(EdgeService).recordActivity({});
    expect(seen).toEqual({ kind: "proxy" });
    const owner = await seedOrg(t.db);
    for (const token of [undefined, "wrong", owner.secret, "fleet-secret"]) {
      await expectError(
        clientsFor(iam.server.url, token).client(EdgeService).recordActivity({}),
        Code.Unauthenticated,
        "PROXY_TOKEN_INVALID",
      );
    }
  });

  test("runners authenticate with their own token or the registration token", async () => {
    await t.db("runners").insert({ id: "runner-1", token_hash: hashSecret("runner-1-token") });
    seen = undefined;
    await connect("runner-1-token");
    expect(seen).toEqual({ kind: "runner", runnerId: "runner-1" });
    await connect("fleet-secret");
    expect(seen).toEqual({ kind: "runner", runnerId: "" });
    const owner = await seedOrg(t.db);
    for (const token of [undefined, "wrong", owner.secret, "proxy-secret"]) {
      await expectError(connect(token), Code.Unauthenticated, "RUNNER_TOKEN_INVALID");
    }
  });

  test("runner administration needs operator; a runner token is not an API key", async () => {
    const owner = await seedOrg(t.db);
    const operator = await seedOrg(t.db, { scopes: ["*", "operator"] });
    const admin = (token: string) =>
      clientsFor(iam.server.url, token).client(RunnerAdminService).listRunners({});
    const err = await expectError(admin(owner.secret), Code.PermissionDenied, "PERMISSION_DENIED");
    expect(errorInfo(err)?.metadata.requiredScope).toBe("operator");
    await admin(operator.secret);
    expect(seen).toMatchObject({ kind: "apiKey", organizationId: operator.orgId });
    await expectError(admin("runner-1-token"), Code.Unauthenticated, "API_KEY_INVALID");
  });
});
