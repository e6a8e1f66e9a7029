// Tenancy across the whole API server (real Postgres, Redis, runner and Docker): another
// organization's key on every RPC that addresses an object by id. The matrix is generated from
// the proto descriptors of the services the server registers, so a new RPC (or a newly
// registered service) is covered without touching this file; an id kind this file has no
// fixture for makes it fail until one is added.
import { create, type DescMessage, type DescMethod, type DescService } from "@bufbuild/protobuf";
import { reflect } from "@bufbuild/protobuf/reflect";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ApiKeyService } from "@cove/gen-ts/cove/iam/v1/api_key_service_pb.js";
import { Role } from "@cove/gen-ts/cove/iam/v1/organization_pb.js";
import { OrganizationService } from "@cove/gen-ts/cove/iam/v1/organization_service_pb.js";
import { SandboxState } from "@cove/gen-ts/cove/sandbox/v1/sandbox_pb.js";
import { SandboxService } from "@cove/gen-ts/cove/sandbox/v1/sandbox_service_pb.js";
import { ProcessService } from "@cove/gen-ts/cove/toolbox/v1/process_service_pb.js";
import { type Stack, startStack } from "../../test/stack.js";
import { issueApiKey } from "../src/domain/iam/api-keys.js";
import { METHOD_RULES, type MethodRule, OPERATOR_SCOPE } from "../src/domain/iam/scopes.js";
import { ensureUser } from "../src/domain/iam/users.js";
import {
  apiClient,
  bearer,
  type CallFailure,
  describeWithDocker,
  failureOf,
  outcomeOf,
} from "./stack-helpers.js";

/** Id fields that filter a listing rather than address an object: they must never reveal one. */
const FILTER_FIELDS = new Set([
  "cove.iam.v1.ListAuditEventsRequest.resource_id",
  "cove.iam.v1.ListAuditEventsRequest.user_id",
]);

/**
 * Id kinds with no object behind them on this server yet, and the service whose registration
 * means a real fixture is due. Until then the id is made up and NotFound is the only answer
 * for anyone, so these rows are checked for org B only.
 */
const UNBACKED_FIELDS: Record<string, string> = {
  snapshot_id: "cove.snapshot.v1.SnapshotService",
  volume_id: "cove.volume.v1.VolumeService",
};

/**
 * The rest of a request that must be valid for the call to get past validation to the lookup
 * (the same request is then sent with org A's own key, which must not get NotFound). Field
 * `wait`, where present, is always false.
 */
const FILLERS: Record<string, Record<string, unknown>> = {
  "cove.sandbox.v1.SandboxService/UpdateSandbox": {
    updateMask: { paths: ["labels"] },
    labels: { tenant: "b-was-here" },
  },
  "cove.sandbox.v1.SandboxService/CreatePreviewUrl": { port: 8080 },
  "cove.iam.v1.OrganizationService/UpdateOrganization": { name: "renamed-by-b" },
  "cove.iam.v1.OrganizationService/AddMember": { email: "victim@a.test", role: Role.VIEWER },
  "cove.iam.v1.OrganizationService/UpdateMember": { role: Role.ADMIN },
  "cove.iam.v1.OrganizationService/UpdateQuota": { quota: { maxSandboxes: 1 } },
};

/** One generated row of the matrix. */
interface MatrixRow {
  service: DescService;
  method: DescMethod;
  procedure: string;
  rule: MethodRule;
  /** The request, ids already filled in. */
  request: unknown;
  /** Proto names of the id fields that were filled. */
  fields: string[];
  /** What org B must get. */
  expect: "NotFound" | "PermissionDenied" | "FilteredOut";
  /** Whether an id in it is made up (no fixture exists): no control call with org A's key. */
  unbacked: boolean;
}

type AnyMethod = (input: unknown, options?: { signal?: AbortSignal }) => unknown;

/** call runs one method of any kind with one request and resolves with its (first) answer. */
async function call(stackUrl: string, key: string, row: MatrixRow): Promise<unknown> {
  const client = createClient(
    row.service,
    createGrpcTransport({ baseUrl: stackUrl, interceptors: [bearer(key)] }),
  ) as unknown as Record<string, AnyMethod>;
  const fn = client[row.method.localName];
  if (!fn) throw new Error(`no client method ${row.method.localName}`);
  const abort = new AbortController();
  try {
    switch (row.method.methodKind) {
      case "unary":
        return await fn(row.request, { signal: abort.signal });
      case "server_streaming": {
        for await (const first of fn(row.request, {
          signal: abort.signal,
        }) as AsyncIterable<unknown>)
          return first;
        return undefined;
      }
      case "client_streaming":
        return await fn(oneMessage(row.request), { signal: abort.signal });
      case "bidi_streaming": {
        for await (const first of fn(oneMessage(row.request), {
          signal: abort.signal,
        }) as AsyncIterable<unknown>)
          return first;
        return undefined;
      }
    }
  } finally {
    abort.abort();
  }
}

async function* oneMessage(message: unknown): AsyncIterable<unknown> {
  yield message;
}

/** idFields lists a request's top-level fields (oneof members included) named `<x>_id`. */
function idFields(input: DescMessage) {
  return input.fields.filter((f) => f.name.endsWith("_id") && f.fieldKind === "scalar");
}

describeWithDocker("tenancy: org B's key against org A's objects, on every RPC", () => {
  let stack: Stack;
  let orgA = "";
  let orgB = "";
  let keyB = "";
  let sandboxA = "";
  let victimKeyId = "";
  let victimUserId = "";
  let registered: DescService[] = [];
  const fixtures: Record<string, string> = {};

  beforeAll(async () => {
    stack = await startStack({ name: "tenancy" });
    const db = stack.database.db;
    const admin = stack.adminKey;
    const orgs = apiClient(OrganizationService, stack.apiUrl, admin);
    orgA = (await orgs.getOrganization({})).organization?.organizationId ?? "";
    expect(orgA).toMatch(/^org_/);

    // Org A's objects: a started sandbox, a second member and a second key to aim at.
    const created = await apiClient(SandboxService, stack.apiUrl, admin).createSandbox({
      labels: { tenant: "a" },
    });
    expect(created.sandbox?.state).toBe(SandboxState.STARTED);
    sandboxA = created.sandbox?.sandboxId ?? "";
    const victim = await ensureUser(db, "victim@a.test", "victim");
    victimUserId = victim.id;
    await db("members").insert({ organization_id: orgA, user_id: victim.id, role: "MEMBER" });
    const adminUser = await db("api_keys")
      .where({ organization_id: orgA })
      .first<{ user_id: string }>("user_id");
    const victimKey = await issueApiKey(db, {
      organizationId: orgA,
      userId: adminUser?.user_id ?? "",
      name: "victim key",
      scopes: ["sandboxes:read"],
    });
    victimKeyId = victimKey.key.id;

    // Org B: made through the API by the admin; its owner's key minted directly (keys are bound
    // to the organization they are created in, and the admin's is bound to org A).
    const b = await orgs.createOrganization({ name: "tenant-b" });
    orgB = b.organization?.organizationId ?? "";
    expect(orgB).toMatch(/^org_/);
    const ownerB = await ensureUser(db, "owner@b.test", "owner of b");
    await db("members").insert({ organization_id: orgB, user_id: ownerB.id, role: "OWNER" });
    keyB = (
      await issueApiKey(db, {
        organizationId: orgB,
        userId: ownerB.id,
        name: "org b key",
        scopes: ["*"],
      })
    ).secret;

    Object.assign(fixtures, {
      sandbox_id: sandboxA,
      organization_id: orgA,
      api_key_id: victimKeyId,
      user_id: victimUserId,
      runner_id: `runner-tenancy-${process.pid}`,
      // ListAuditEvents.resource_id takes any kind of object; org A's sandbox has events.
      resource_id: sandboxA,
    });
    registered = stack.server.app.server.services.filter((s) => s.typeName.startsWith("cove."));
  }, 900_000);
  afterAll(() => stack?.stop());

  /**
   * The user-facing services: every method authorized by an API key, not all of them
   * operator-only (RunnerAdminService is platform administration; see the second test).
   */
  const apiServices = () =>
    registered.filter((s) => {
      const rules = s.methods.map((m) => METHOD_RULES[`${s.typeName}/${m.name}`]);
      return (
        rules.every((r) => r?.auth === "apiKey") &&
        !rules.every((r) => r?.auth === "apiKey" && r.scope === OPERATOR_SCOPE)
      );
    });

  function buildMatrix(): MatrixRow[] {
    const rows: MatrixRow[] = [];
    for (const service of apiServices()) {
      for (const method of service.methods) {
        const procedure = `${service.typeName}/${method.name}`;
        const rule = METHOD_RULES[procedure];
        if (!rule) throw new Error(`${procedure} has no access rule`);
        const fields = idFields(method.input);
        if (fields.length === 0) continue;
        const addressed = fields.filter(
          (f) => !FILTER_FIELDS.has(`${method.input.typeName}.${f.name}`),
        );
        const operatorOnly = rule.auth === "apiKey" && rule.scope === OPERATOR_SCOPE;
        const base = { wait: false, ...FILLERS[procedure] };
        const make = (chosen: typeof fields) => {
          const init: Record<string, unknown> = {};
          for (const [k, v] of Object.entries(base))
            if (method.input.fields.some((f) => f.localName === k)) init[k] = v;
          const message = create(method.input, init as never);
          const r = reflect(method.input, message);
          let unbacked = false;
          for (const field of chosen) {
            const fixture = fixtures[field.name];
            if (fixture !== undefined) {
              r.set(field, fixture);
              continue;
            }
            const owner = UNBACKED_FIELDS[field.name];
            if (owner === undefined)
              throw new Error(
                `${procedure} takes ${field.name}, which this test has no org A object for: add a fixture`,
              );
            if (registered.some((s) => s.typeName === owner))
              throw new Error(
                `${owner} is registered now: give ${field.name} a real org A fixture (used by ${procedure})`,
              );
            r.set(field, `${field.name.replace(/_id$/, "")}_made_up_for_tenancy`);
            unbacked = true;
          }
          return { request: message, unbacked };
        };
        if (addressed.length > 0) {
          const { request, unbacked } = make(addressed);
          rows.push({
            service,
            method,
            procedure,
            rule,
            request,
            fields: addressed.map((f) => f.name),
            expect: operatorOnly ? "PermissionDenied" : "NotFound",
            unbacked,
          });
        } else {
          // Only filters: one call per filter, each must come back without org A's data.
          for (const field of fields) {
            const { request, unbacked } = make([field]);
            rows.push({
              service,
              method,
              procedure,
              rule,
              request,
              fields: [field.name],
              expect: operatorOnly ? "PermissionDenied" : "FilteredOut",
              unbacked,
            });
          }
        }
      }
    }
    return rows;
  }

  test("every addressed id of org A is NotFound for org B (operator-only: PermissionDenied), and org A is untouched", async () => {
    const matrix = buildMatrix();
    // The generated matrix must reach the RPCs we know about today (guards the generator).
    const procedures = new Set(matrix.map((r) => r.procedure));
    for (const known of [
      "cove.sandbox.v1.SandboxService/GetSandbox",
      "cove.sandbox.v1.SandboxService/DeleteSandbox",
      "cove.sandbox.v1.SandboxService/WatchSandbox",
      "cove.sandbox.v1.SandboxService/CreateSandbox",
      "cove.iam.v1.ApiKeyService/RevokeApiKey",
      "cove.iam.v1.OrganizationService/UpdateQuota",
      "cove.iam.v1.OrganizationService/RemoveMember",
      "cove.iam.v1.AuditService/ListAuditEvents",
    ])
      expect(procedures).toContain(known);

    const before = {
      org: (await apiClient(OrganizationService, stack.apiUrl, stack.adminKey).getOrganization({}))
        .organization,
    };

    const mismatches: string[] = [];
    for (const row of matrix) {
      let outcome: CallFailure;
      let answer: unknown;
      try {
        answer = await call(stack.apiUrl, keyB, row);
        outcome = { code: "OK", reason: "", message: "" };
      } catch (err) {
        outcome = failureOf(err);
      }
      const label = `${row.procedure} [${row.fields.join(",")}]`;
      if (row.expect === "FilteredOut") {
        if (outcome.code !== "OK") {
          mismatches.push(`${label}: ${outcome.code} ${outcome.reason} (expected OK, filtered)`);
          continue;
        }
        // Whatever comes back must be org B's own (its failed attempts are audited there).
        const foreign = JSON.stringify(answer, (_k, v) => (typeof v === "bigint" ? String(v) : v));
        if (foreign.includes(orgA)) mismatches.push(`${label}: the answer mentions org A`);
        continue;
      }
      if (outcome.code !== row.expect)
        mismatches.push(
          `${label}: ${outcome.code} ${outcome.reason} "${outcome.message}" (expected ${row.expect})`,
        );
    }
    expect(mismatches).toEqual([]);

    // Listings (methods with no id to aim) show org B nothing of org A either.
    for (const service of apiServices()) {
      for (const method of service.methods) {
        if (idFields(method.input).length > 0 || method.methodKind !== "unary") continue;
        if (!method.name.startsWith("List")) continue;
        const row: MatrixRow = {
          service,
          method,
          procedure: `${service.typeName}/${method.name}`,
          rule: METHOD_RULES[`${service.typeName}/${method.name}`] as MethodRule,
          request: create(method.input),
          fields: [],
          expect: "FilteredOut",
          unbacked: false,
        };
        const answer = JSON.stringify(await call(stack.apiUrl, keyB, row), (_k, v) =>
          typeof v === "bigint" ? String(v) : v,
        );
        for (const secret of [orgA, sandboxA, victimKeyId])
          if (answer.includes(secret)) mismatches.push(`${row.procedure} lists ${secret}`);
      }
    }
    expect(mismatches).toEqual([]);

    // Nothing of org A changed.
    const admin = stack.adminKey;
    const sandbox = (
      await apiClient(SandboxService, stack.apiUrl, admin).getSandbox({ sandboxId: sandboxA })
    ).sandbox;
    expect(sandbox?.state).toBe(SandboxState.STARTED);
    expect(sandbox?.labels).toEqual({ tenant: "a" });
    const org = (await apiClient(OrganizationService, stack.apiUrl, admin).getOrganization({}))
      .organization;
    expect(org?.name).toBe(before.org?.name);
    expect(org?.quota).toEqual(before.org?.quota);
    const key = (
      await apiClient(ApiKeyService, stack.apiUrl, admin).getApiKey({ apiKeyId: victimKeyId })
    ).apiKey;
    expect(key?.revokeTime).toBeUndefined();
    const members = (
      await apiClient(OrganizationService, stack.apiUrl, admin).listMembers({
        organizationId: orgA,
      })
    ).members;
    expect(members.find((m) => m.userId === victimUserId)?.role).toBe(Role.MEMBER);
    const tokens = await stack.database.db("access_tokens").where({ sandbox_id: sandboxA });
    expect(tokens).toEqual([]);
    const exec = await createClient(
      ProcessService,
      createGrpcTransport({
        baseUrl: stack.runner.gatewayUrl,
        interceptors: [
          (next) => (req) => {
            req.header.set("cove-sandbox-id", sandboxA);
            req.header.set("cove-gateway-token", stack.gatewayToken);
            return next(req);
          },
        ],
      }),
    ).exec({ program: { case: "command", value: "echo still-mine" } });
    expect(Buffer.from(exec.stdout).toString()).toBe("still-mine\n");

    // Control: the very same requests with org A's own key are not NotFound — so the NotFound
    // above came from tenancy, not from a bad id. Destructive calls go last; DeleteOrganization
    // runs while the sandbox still exists (so it is refused as not empty).
    const weight = (r: MatrixRow) => {
      if (!/^(Delete|Revoke|Remove)/.test(r.method.name)) return 0;
      return r.fields.includes("organization_id") && r.fields.length === 1 ? 1 : 2;
    };
    const control = matrix.filter((r) => !r.unbacked).sort((a, b) => weight(a) - weight(b));
    const controlMismatches: string[] = [];
    for (const row of control) {
      let outcome: CallFailure;
      let answer: unknown;
      try {
        answer = await call(stack.apiUrl, admin, row);
        outcome = { code: "OK", reason: "", message: "" };
      } catch (err) {
        outcome = failureOf(err);
      }
      const label = `${row.procedure} [${row.fields.join(",")}]`;
      if (["NotFound", "PermissionDenied", "Unauthenticated"].includes(outcome.code))
        controlMismatches.push(`${label}: ${outcome.code} ${outcome.reason} "${outcome.message}"`);
      if (row.expect === "FilteredOut" && row.fields[0] === "resource_id") {
        // Org A does see its own events about its sandbox through the same filter.
        const events = (answer as { auditEvents?: unknown[] } | undefined)?.auditEvents ?? [];
        if (events.length === 0) controlMismatches.push(`${label}: org A saw no events of its own`);
      }
    }
    expect(controlMismatches).toEqual([]);
  }, 180_000);

  test("user keys are refused on RunnerService, RunnerAdminService and EdgeService", async () => {
    const internal = registered.filter((s) => !apiServices().includes(s));
    expect(internal.map((s) => s.typeName).sort()).toEqual([
      "cove.edge.v1.EdgeService",
      "cove.runner.v1.RunnerAdminService",
      "cove.runner.v1.RunnerService",
    ]);
    const mismatches: string[] = [];
    for (const service of internal) {
      for (const method of service.methods) {
        const procedure = `${service.typeName}/${method.name}`;
        const rule = METHOD_RULES[procedure];
        if (!rule) throw new Error(`${procedure} has no access rule`);
        const request = create(method.input);
        const r = reflect(method.input, request);
        for (const field of idFields(method.input)) {
          const fixture = fixtures[field.name];
          if (fixture !== undefined) r.set(field, fixture);
        }
        const row: MatrixRow = {
          service,
          method,
          procedure,
          rule,
          request,
          fields: [],
          expect: "PermissionDenied",
          unbacked: false,
        };
        // Org B's "*" key on everything; the operator admin key only where an API key can never
        // be enough (runner and proxy credentials) — it may run RunnerAdminService by design.
        const keys: Array<[string, string]> = [["org B key", keyB]];
        if (rule.auth !== "apiKey") keys.push(["operator admin key", stack.adminKey]);
        for (const [who, key] of keys) {
          const outcome = await outcomeOf(call(stack.apiUrl, key, row));
          const expected =
            rule.auth === "apiKey" ? ["PermissionDenied"] : ["Unauthenticated", "PermissionDenied"];
          if (!expected.includes(outcome.code))
            mismatches.push(
              `${procedure} with ${who}: ${outcome.code} ${outcome.reason} (expected ${expected.join(" or ")})`,
            );
        }
      }
    }
    expect(mismatches).toEqual([]);
    // The stack's runner kept its stream through all of this.
    const runner = await stack.database
      .db("runners")
      .where({ id: `runner-tenancy-${process.pid}` })
      .first<{ state: string }>("state");
    expect(runner?.state).toBe("CONNECTED");
  }, 60_000);
});
