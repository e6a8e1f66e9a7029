import { createHash } from "node:crypto";
import { toJsonString } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { ErrorReason } from "@cove/gen-ts/cove/errors/v1/error_reason_pb.js";
import { ApiKeyState } from "@cove/gen-ts/cove/iam/v1/api_key_pb.js";
import {
  ApiKeyService,
  ListApiKeysResponseSchema,
} from "@cove/gen-ts/cove/iam/v1/api_key_service_pb.js";
import { Role } from "@cove/gen-ts/cove/iam/v1/organization_pb.js";
import { OrganizationService } from "@cove/gen-ts/cove/iam/v1/organization_service_pb.js";
import { RetryInfoSchema } from "@cove/gen-ts/google/rpc/error_details_pb.js";
import { Health } from "@cove/gen-ts/grpc/health/v1/health_pb.js";
import { METHOD_RULES } from "../src/domain/iam/scopes.js";
import { ensureUser } from "../src/domain/iam/users.js";
import { createMemorySharedState } from "../src/shared/memory-state.js";
import type { SharedState } from "../src/shared/shared-state.js";
import { createTestDatabase, type TestDatabase } from "./database.js";
import {
  clientsFor,
  errorInfo,
  expectError,
  type IamServer,
  type Seeded,
  seedOrg,
  startIamServer,
} from "./iam-harness.js";

let t: TestDatabase;
let iam: IamServer;
let url: string;

beforeAll(async () => {
  t = await createTestDatabase();
  iam = await startIamServer(t.db);
  url = iam.server.url;
});
afterAll(async () => {
  await iam?.close();
  await t?.drop();
});

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

describe("API keys", () => {
  test("the secret is shown once, only its hash is stored, and it works", async () => {
    const owner = await seedOrg(t.db);
    const c = clientsFor(url, owner.secret);
    const created = await c.keys.createApiKey({ name: "ci", scopes: ["sandboxes:read"] });
    expect(created.secret).toMatch(/^cove_sk_[A-Za-z0-9_-]{43}$/);
    expect(created.apiKey?.keyPrefix).toBe(created.secret.slice(0, 12));
    expect(created.apiKey?.state).toBe(ApiKeyState.ACTIVE);
    expect(created.apiKey?.createdByUserId).toBe(owner.userId);

    const row = await t.db("api_keys").where({ id: created.apiKey?.apiKeyId }).first();
    expect(row.secret_hash).toBe(sha256(created.secret));
    const stored = JSON.stringify(row);
    expect(stored).not.toContain(created.secret);
    expect(stored).not.toContain(created.secret.slice(12));

    const listed = await c.keys.listApiKeys({});
    const mine = listed.apiKeys.find((k) => k.apiKeyId === created.apiKey?.apiKeyId);
    expect(mine?.keyPrefix).toBe(created.secret.slice(0, 12));
    expect(toJsonString(ListApiKeysResponseSchema, listed)).not.toContain(created.secret.slice(12));
    // Newest first.
    expect(listed.apiKeys[0]?.apiKeyId).toBe(created.apiKey?.apiKeyId);

    // The new key authenticates, and can only do what its scope says.
    const ci = clientsFor(url, created.secret);
    await expectError(ci.orgs.getOrganization({}), Code.PermissionDenied, "PERMISSION_DENIED");
    const got = await c.keys.getApiKey({ apiKeyId: created.apiKey?.apiKeyId });
    expect(got.apiKey?.name).toBe("ci");
  });

  test("revoked keys are refused at once, even when cached, and listed only on request", async () => {
    const owner = await seedOrg(t.db);
    const c = clientsFor(url, owner.secret);
    const { apiKey, secret } = await c.keys.createApiKey({ name: "tmp", scopes: ["*"] });
    const tmp = clientsFor(url, secret);
    await tmp.orgs.getOrganization({}); // now in the auth cache
    const revoked = await c.keys.revokeApiKey({ apiKeyId: apiKey?.apiKeyId });
    expect(revoked.apiKey?.state).toBe(ApiKeyState.REVOKED);
    expect(revoked.apiKey?.revokeTime).toBeDefined();
    const err = await expectError(
      tmp.orgs.getOrganization({}),
      Code.Unauthenticated,
      "API_KEY_REVOKED",
    );
    expect(errorInfo(err)?.metadata.keyPrefix).toBe(secret.slice(0, 12));
    // Revoking again succeeds.
    await c.keys.revokeApiKey({ apiKeyId: apiKey?.apiKeyId });

    const active = await c.keys.listApiKeys({});
    expect(active.apiKeys.map((k) => k.apiKeyId)).not.toContain(apiKey?.apiKeyId);
    const gone = await c.keys.listApiKeys({ states: [ApiKeyState.REVOKED] });
    expect(gone.apiKeys.map((k) => k.apiKeyId)).toEqual([apiKey?.apiKeyId]);
  });

  test("a key may revoke itself", async () => {
    const owner = await seedOrg(t.db, { role: "MEMBER", scopes: ["api_keys:write"] });
    const c = clientsFor(url, owner.secret);
    await c.keys.revokeApiKey({ apiKeyId: owner.keyId });
    await expectError(
      c.keys.revokeApiKey({ apiKeyId: owner.keyId }),
      Code.Unauthenticated,
      "API_KEY_REVOKED",
    );
  });

  test("expired keys are refused with API_KEY_EXPIRED", async () => {
    const owner = await seedOrg(t.db);
    await t
      .db("api_keys")
      .where({ id: owner.keyId })
      .update({ expire_time: new Date(Date.now() - 1000) });
    const err = await expectError(
      clientsFor(url, owner.secret).orgs.getOrganization({}),
      Code.Unauthenticated,
      "API_KEY_EXPIRED",
    );
    expect(errorInfo(err)?.metadata.expireTime).toBeDefined();
  });

  test("missing, malformed and unknown credentials", async () => {
    await expectError(
      clientsFor(url, undefined).orgs.getOrganization({}),
      Code.Unauthenticated,
      "CREDENTIALS_MISSING",
    );
    await expectError(
      clientsFor(url, "not-a-key").orgs.getOrganization({}),
      Code.Unauthenticated,
      "API_KEY_INVALID",
    );
    await expectError(
      clientsFor(url, `cove_sk_${"A".repeat(43)}`).orgs.getOrganization({}),
      Code.Unauthenticated,
      "API_KEY_INVALID",
    );
    const basic = createClient(
      OrganizationService,
      createConnectTransport({
        baseUrl: url,
        httpVersion: "2",
        interceptors: [
          (next) => (req) => {
            req.header.set("authorization", "Basic dXNlcjpwYXNz");
            return next(req);
          },
        ],
      }),
    );
    await expectError(basic.getOrganization({}), Code.Unauthenticated, "API_KEY_INVALID");
  });

  test("expire_time in the past and unknown scopes are invalid", async () => {
    const c = clientsFor(url, (await seedOrg(t.db)).secret);
    await expectError(
      c.keys.createApiKey({
        name: "x",
        scopes: ["sandboxes:read"],
        expireTime: timestampFromDate(new Date(Date.now() - 60_000)),
      }),
      Code.InvalidArgument,
      "INVALID_FIELD",
    );
    await expectError(
      c.keys.createApiKey({ name: "x", scopes: ["sandboxes:admin"] }),
      Code.InvalidArgument,
      "INVALID_FIELD",
    );
    await expectError(
      c.keys.createApiKey({ name: "x", scopes: [] }),
      Code.InvalidArgument,
      "INVALID_FIELD",
    );
    await expectError(
      c.keys.createApiKey({ name: "", scopes: ["sandboxes:read"] }),
      Code.InvalidArgument,
      "INVALID_FIELD",
    );
    const future = await c.keys.createApiKey({
      name: "x",
      scopes: ["sandboxes:read"],
      expireTime: timestampFromDate(new Date(Date.now() + 3_600_000)),
    });
    expect(future.apiKey?.expireTime).toBeDefined();
  });

  test("a key cannot grant more than its own scopes, its role, or operator", async () => {
    const narrow = await seedOrg(t.db, { scopes: ["api_keys:write", "sandboxes:read"] });
    const c = clientsFor(url, narrow.secret);
    await c.keys.createApiKey({ name: "ok", scopes: ["sandboxes:read"] });
    const err = await expectError(
      c.keys.createApiKey({ name: "more", scopes: ["sandboxes:write"] }),
      Code.PermissionDenied,
      "PERMISSION_DENIED",
    );
    expect(errorInfo(err)?.metadata.requiredScope).toBe("sandboxes:write");
    await expectError(
      c.keys.createApiKey({ name: "all", scopes: ["*"] }),
      Code.PermissionDenied,
      "PERMISSION_DENIED",
    );

    const owner = clientsFor(url, (await seedOrg(t.db)).secret);
    await expectError(
      owner.keys.createApiKey({ name: "op", scopes: ["operator"] }),
      Code.PermissionDenied,
      "PERMISSION_DENIED",
    );
    // A MEMBER's "*" key may not mint "*" (the role does not allow audit:read).
    const member = clientsFor(url, (await seedOrg(t.db, { role: "MEMBER" })).secret);
    await expectError(
      member.keys.createApiKey({ name: "all", scopes: ["*"] }),
      Code.PermissionDenied,
      "PERMISSION_DENIED",
    );
    await member.keys.createApiKey({ name: "sbx", scopes: ["sandboxes:write"] });
  });

  test("wrong scope is PERMISSION_DENIED with requiredScope; role bounds the key", async () => {
    const reader = await seedOrg(t.db, { scopes: ["organization:read"] });
    const c = clientsFor(url, reader.secret);
    await c.orgs.getOrganization({});
    const err = await expectError(
      c.keys.listApiKeys({}),
      Code.PermissionDenied,
      "PERMISSION_DENIED",
    );
    expect(errorInfo(err)?.metadata.requiredScope).toBe("api_keys:read");
    await expectError(
      c.orgs.updateQuota({ organizationId: reader.orgId, quota: {} }),
      Code.PermissionDenied,
      "PERMISSION_DENIED",
    );

    // A VIEWER's "*" key reads, but cannot create keys or read the audit log.
    const viewer = clientsFor(url, (await seedOrg(t.db, { role: "VIEWER" })).secret);
    await viewer.orgs.getUsage({});
    await expectError(
      viewer.keys.createApiKey({ name: "x", scopes: ["sandboxes:read"] }),
      Code.PermissionDenied,
      "PERMISSION_DENIED",
    );
    await expectError(viewer.audit.listAuditEvents({}), Code.PermissionDenied, "PERMISSION_DENIED");
  });

  test("members see and revoke only their own keys; admins see all", async () => {
    const owner = await seedOrg(t.db);
    const member = await seedOrg(t.db, { orgId: owner.orgId, role: "MEMBER" });
    const admin = await seedOrg(t.db, { orgId: owner.orgId, role: "ADMIN" });
    const m = clientsFor(url, member.secret);
    const listed = await m.keys.listApiKeys({});
    expect(listed.apiKeys.map((k) => k.apiKeyId)).toEqual([member.keyId]);
    await expectError(
      m.keys.getApiKey({ apiKeyId: owner.keyId }),
      Code.PermissionDenied,
      "PERMISSION_DENIED",
    );
    await expectError(
      m.keys.revokeApiKey({ apiKeyId: owner.keyId }),
      Code.PermissionDenied,
      "PERMISSION_DENIED",
    );
    const all = await clientsFor(url, admin.secret).keys.listApiKeys({});
    expect(new Set(all.apiKeys.map((k) => k.apiKeyId))).toEqual(
      new Set([owner.keyId, member.keyId, admin.keyId]),
    );
  });

  test("list pages newest first with page tokens", async () => {
    const owner = await seedOrg(t.db);
    const c = clientsFor(url, owner.secret);
    for (let i = 0; i < 4; i++)
      await c.keys.createApiKey({ name: `k${i}`, scopes: ["sandboxes:read"] });
    const seen: string[] = [];
    let pageToken = "";
    do {
      const page = await c.keys.listApiKeys({ pageSize: 2, pageToken });
      expect(page.apiKeys.length).toBeLessThanOrEqual(2);
      seen.push(...page.apiKeys.map((k) => k.name));
      pageToken = page.nextPageToken;
    } while (pageToken);
    expect(seen).toEqual(["k3", "k2", "k1", "k0", "test key"]);
    await expectError(
      c.keys.listApiKeys({ pageToken: "garbage" }),
      Code.InvalidArgument,
      "INVALID_FIELD",
    );
  });

  test("last_use_time is written once, not per request", async () => {
    const owner = await seedOrg(t.db);
    const c = clientsFor(url, owner.secret);
    await c.orgs.getOrganization({});
    await new Promise((r) => setTimeout(r, 200));
    const first = await t.db("api_keys").where({ id: owner.keyId }).first("last_used_time");
    expect(first.last_used_time).toBeInstanceOf(Date);
    for (let i = 0; i < 5; i++) await c.orgs.getOrganization({});
    await new Promise((r) => setTimeout(r, 200));
    const again = await t.db("api_keys").where({ id: owner.keyId }).first("last_used_time");
    expect(again.last_used_time.getTime()).toBe(first.last_used_time.getTime());
  });
});

describe("tenancy", () => {
  test("another organization's key gets NOT_FOUND on every RPC that takes an id", async () => {
    const a = await seedOrg(t.db);
    const b = await seedOrg(t.db);
    const values: Record<string, unknown> = {
      organization_id: a.orgId,
      api_key_id: a.keyId,
      user_id: a.userId,
      email: a.email,
      role: Role.MEMBER,
      name: "renamed",
      quota: {},
    };
    const tried: string[] = [];
    for (const service of [OrganizationService, ApiKeyService]) {
      const client = clientsFor(url, b.secret).client(service) as unknown as Record<
        string,
        (req: unknown) => Promise<unknown>
      >;
      for (const method of service.methods) {
        const idFields = method.input.fields.filter((f) => f.name.endsWith("_id"));
        if (idFields.length === 0) continue;
        const rule = METHOD_RULES[`${service.typeName}/${method.name}`];
        // Operator-only calls are refused on scope before any lookup (checked below).
        if (rule?.auth === "apiKey" && rule.scope === "operator") continue;
        const input: Record<string, unknown> = {};
        for (const field of method.input.fields) {
          if (field.name in values) input[field.localName] = values[field.name];
        }
        const call = client[method.localName];
        if (!call) throw new Error(`no client method ${method.localName}`);
        const err = await expectError(call(input), Code.NotFound);
        expect(errorInfo(err)?.reason).toMatch(/_NOT_FOUND$/);
        tried.push(method.name);
      }
    }
    expect(tried).toEqual(
      expect.arrayContaining([
        "GetOrganization",
        "UpdateOrganization",
        "DeleteOrganization",
        "ListMembers",
        "AddMember",
        "UpdateMember",
        "RemoveMember",
        "GetUsage",
        "GetApiKey",
        "RevokeApiKey",
      ]),
    );
    // Organization A is untouched and its ids are real.
    const own = clientsFor(url, a.secret);
    expect((await own.orgs.getOrganization({ organizationId: a.orgId })).organization?.name).toBe(
      `org ${a.orgId}`,
    );
    expect((await own.keys.getApiKey({ apiKeyId: a.keyId })).apiKey?.state).toBe(
      ApiKeyState.ACTIVE,
    );
    expect((await own.orgs.listMembers({ organizationId: a.orgId })).members).toHaveLength(1);
    // B's own list shows only B.
    const listed = await clientsFor(url, b.secret).orgs.listOrganizations({});
    expect(listed.organizations.map((o) => o.organizationId)).toEqual([b.orgId]);
  });

  test("a user in two organizations still reaches only the key's organization", async () => {
    const a = await seedOrg(t.db);
    const b = await seedOrg(t.db, { email: a.email });
    const c = clientsFor(url, b.secret);
    await expectError(
      c.orgs.getOrganization({ organizationId: a.orgId }),
      Code.NotFound,
      "ORGANIZATION_NOT_FOUND",
    );
    const listed = await c.orgs.listOrganizations({});
    expect(listed.organizations.map((o) => o.organizationId)).toEqual([b.orgId]);
  });
});

describe("organizations", () => {
  test("CreateOrganization makes the caller OWNER; Get returns the role", async () => {
    const owner = await seedOrg(t.db, { scopes: ["organization:read", "organization:write"] });
    const c = clientsFor(url, owner.secret);
    const created = await c.orgs.createOrganization({ name: "Acme" });
    expect(created.organization?.name).toBe("Acme");
    expect(created.organization?.quota?.maxSandboxes).toBe(10);
    const member = await t
      .db("members")
      .where({ organization_id: created.organization?.organizationId })
      .first();
    expect(member).toMatchObject({ user_id: owner.userId, role: "OWNER" });
    const got = await c.orgs.getOrganization({});
    expect(got.role).toBe(Role.OWNER);
    await expectError(
      c.orgs.createOrganization({ name: "" }),
      Code.InvalidArgument,
      "INVALID_FIELD",
    );
  });

  test("members: add, change, remove, LAST_OWNER, removal revokes keys", async () => {
    const owner = await seedOrg(t.db);
    const c = clientsFor(url, owner.secret);
    const other = await ensureUser(t.db, `other-${owner.orgId}@example.test`);
    await expectError(
      c.orgs.addMember({
        organizationId: owner.orgId,
        email: "nobody@example.test",
        role: Role.MEMBER,
      }),
      Code.NotFound,
      "USER_NOT_FOUND",
    );
    await expectError(
      c.orgs.addMember({ organizationId: owner.orgId, email: other.email, role: Role.UNSPECIFIED }),
      Code.InvalidArgument,
      "INVALID_FIELD",
    );
    const added = await c.orgs.addMember({
      organizationId: owner.orgId,
      email: other.email.toUpperCase(),
      role: Role.ADMIN,
    });
    expect(added.member).toMatchObject({ userId: other.id, role: Role.ADMIN });
    await expectError(
      c.orgs.addMember({ organizationId: owner.orgId, email: other.email, role: Role.MEMBER }),
      Code.AlreadyExists,
      "MEMBER_ALREADY_EXISTS",
    );
    const members = await c.orgs.listMembers({ organizationId: owner.orgId });
    expect(members.members.map((m) => m.email).sort()).toEqual([owner.email, other.email].sort());

    // The only OWNER can neither demote nor remove themself.
    await expectError(
      c.orgs.updateMember({ organizationId: owner.orgId, userId: owner.userId, role: Role.ADMIN }),
      Code.FailedPrecondition,
      "LAST_OWNER",
    );
    await expectError(
      c.orgs.removeMember({ organizationId: owner.orgId, userId: owner.userId }),
      Code.FailedPrecondition,
      "LAST_OWNER",
    );

    // An ADMIN cannot touch owners.
    const adminKey = await iam.apiKeys.create(
      {
        kind: "apiKey",
        organizationId: owner.orgId,
        apiKeyId: owner.keyId,
        userId: other.id,
        scopes: ["*"],
      },
      { name: "admin", scopes: ["*"], expireTime: undefined },
    );
    const admin = clientsFor(url, adminKey.secret);
    await expectError(
      admin.orgs.updateMember({
        organizationId: owner.orgId,
        userId: owner.userId,
        role: Role.MEMBER,
      }),
      Code.PermissionDenied,
      "PERMISSION_DENIED",
    );
    await expectError(
      admin.orgs.deleteOrganization({ organizationId: owner.orgId }),
      Code.PermissionDenied,
      "PERMISSION_DENIED",
    );

    // Promote, then the first owner may step down.
    await c.orgs.updateMember({ organizationId: owner.orgId, userId: other.id, role: Role.OWNER });
    await c.orgs.updateMember({
      organizationId: owner.orgId,
      userId: owner.userId,
      role: Role.MEMBER,
    });
    // Now a MEMBER, the first user may no longer change roles (the key follows the role).
    await expectError(
      c.orgs.updateMember({ organizationId: owner.orgId, userId: other.id, role: Role.MEMBER }),
      Code.PermissionDenied,
      "PERMISSION_DENIED",
    );
    await expectError(
      admin.orgs.updateMember({
        organizationId: owner.orgId,
        userId: "usr_missing",
        role: Role.MEMBER,
      }),
      Code.NotFound,
      "MEMBER_NOT_FOUND",
    );

    // Removing a member revokes their keys at once.
    await admin.orgs.removeMember({ organizationId: owner.orgId, userId: owner.userId });
    await expectError(c.orgs.getOrganization({}), Code.Unauthenticated, "API_KEY_REVOKED");
    await expectError(
      admin.orgs.removeMember({ organizationId: owner.orgId, userId: owner.userId }),
      Code.NotFound,
      "MEMBER_NOT_FOUND",
    );
  });

  test("usage counts sandboxes by state; delete refuses while sandboxes remain", async () => {
    const owner = await seedOrg(t.db);
    const c = clientsFor(url, owner.secret);
    const sandbox = (id: string, state: string) => ({
      id: `${owner.orgId.slice(4, 14)}${id}`,
      organization_id: owner.orgId,
      image: "i",
      state,
      desired_state: state,
      cpu_millicores: 1000,
      memory_mib: 512,
      disk_mib: 100,
    });
    await t
      .db("sandboxes")
      .insert([
        sandbox("a", "STARTED"),
        sandbox("b", "STARTING"),
        sandbox("c", "STOPPED"),
        sandbox("d", "ARCHIVED"),
        sandbox("e", "ERROR"),
        sandbox("f", "DESTROYED"),
        sandbox("g", "DESTROYING"),
        sandbox("h", "STOPPING"),
      ]);
    const { quota, usage } = await c.orgs.getUsage({});
    expect(quota?.totalCpuMillicores).toBe(8000);
    expect(usage).toMatchObject({
      sandboxes: 6, // all but DESTROYED and DESTROYING
      startedSandboxes: 2, // STARTED, STARTING
      cpuMillicores: 2000,
      memoryMib: 1024,
      diskMib: 500, // STARTED, STARTING, STOPPED, ERROR, STOPPING
      apiKeys: 1,
    });
    const err = await expectError(
      c.orgs.deleteOrganization({ organizationId: owner.orgId }),
      Code.FailedPrecondition,
      "ORGANIZATION_NOT_EMPTY",
    );
    // Deletion waits until every sandbox is DESTROYED (DESTROYING ones too).
    expect(errorInfo(err)?.metadata.sandboxCount).toBe("7");
    await t.db("sandboxes").where({ organization_id: owner.orgId }).update({ state: "DESTROYED" });
    await c.orgs.deleteOrganization({ organizationId: owner.orgId });
    // Its keys stop working, and it is gone.
    await expectError(c.orgs.getOrganization({}), Code.Unauthenticated);
  });

  test("UpdateQuota needs operator; operators reach any organization", async () => {
    const tenant = await seedOrg(t.db);
    const operator = await seedOrg(t.db, { scopes: ["*", "operator"] });
    const op = clientsFor(url, operator.secret);
    const updated = await op.orgs.updateQuota({
      organizationId: tenant.orgId,
      quota: { maxSandboxes: 3, totalCpuMillicores: 2000 },
    });
    expect(updated.organization?.quota).toMatchObject({
      maxSandboxes: 3,
      totalCpuMillicores: 2000,
      totalMemoryMib: 0,
    });
    const usage = await clientsFor(url, tenant.secret).orgs.getUsage({});
    expect(usage.quota?.maxSandboxes).toBe(3);
    await expectError(
      op.orgs.updateQuota({ organizationId: tenant.orgId, quota: { maxApiKeys: 5 } }),
      Code.InvalidArgument,
      "INVALID_FIELD",
    );
    await expectError(
      op.orgs.updateQuota({ organizationId: tenant.orgId }),
      Code.InvalidArgument,
      "INVALID_FIELD",
    );
    await expectError(
      op.orgs.updateQuota({ organizationId: "org_nope", quota: {} }),
      Code.NotFound,
      "ORGANIZATION_NOT_FOUND",
    );
    // Operators list every organization; tenants only their own.
    const all = await op.orgs.listOrganizations({ pageSize: 500 });
    expect(all.organizations.map((o) => o.organizationId)).toEqual(
      expect.arrayContaining([tenant.orgId, operator.orgId]),
    );
    // The tenant's own "*" key is not an operator.
    await expectError(
      clientsFor(url, tenant.secret).orgs.updateQuota({ organizationId: tenant.orgId, quota: {} }),
      Code.PermissionDenied,
      "PERMISSION_DENIED",
    );
  });
});

describe("audit", () => {
  test("mutations are recorded with their outcome; reads are not", async () => {
    const owner: Seeded = await seedOrg(t.db);
    const c = clientsFor(url, owner.secret, { "user-agent": "iam-test/1" });
    await c.orgs.getOrganization({});
    await c.keys.listApiKeys({});
    const created = await c.keys.createApiKey({ name: "audited", scopes: ["sandboxes:read"] });
    await expectError(c.keys.revokeApiKey({ apiKeyId: "key_missing" }), Code.NotFound);
    await c.orgs.updateOrganization({ organizationId: owner.orgId, name: "Renamed" });

    const rows = await t.db("audit_events").where({ organization_id: owner.orgId }).orderBy("id");
    expect(rows.map((r) => [r.method.split("/")[1], r.outcome, r.resource_id])).toEqual([
      ["CreateApiKey", "OK", created.apiKey?.apiKeyId],
      ["RevokeApiKey", "NOT_FOUND", "key_missing"],
      ["UpdateOrganization", "OK", owner.orgId],
    ]);
    expect(rows.every((r) => r.actor === owner.keyId && r.request_id.startsWith("req_"))).toBe(
      true,
    );
    expect(JSON.stringify(rows)).not.toContain(created.secret);

    const listed = await c.audit.listAuditEvents({});
    expect(listed.auditEvents.map((e) => e.method.split("/")[1])).toEqual([
      "UpdateOrganization",
      "RevokeApiKey",
      "CreateApiKey",
    ]);
    const failed = listed.auditEvents[1];
    expect(failed).toMatchObject({
      code: "NOT_FOUND",
      errorReason: ErrorReason.API_KEY_NOT_FOUND,
      resourceType: "api_key",
      userAgent: expect.stringContaining("iam-test/1"),
    });
    expect(failed?.actor).toMatchObject({
      userId: owner.userId,
      apiKeyId: owner.keyId,
      displayName: owner.email,
    });

    // Filters and paging.
    const onlyKeys = await c.audit.listAuditEvents({ resourceType: "api_key", pageSize: 1 });
    expect(onlyKeys.auditEvents).toHaveLength(1);
    const next = await c.audit.listAuditEvents({
      resourceType: "api_key",
      pageSize: 1,
      pageToken: onlyKeys.nextPageToken,
    });
    expect(next.auditEvents[0]?.method).toMatch(/CreateApiKey$/);
    expect(next.nextPageToken).toBe("");
    await expectError(
      c.audit.listAuditEvents({ pageToken: onlyKeys.nextPageToken }),
      Code.InvalidArgument,
      "INVALID_FIELD",
    );
    const byMethod = await c.audit.listAuditEvents({
      method: "cove.iam.v1.OrganizationService/UpdateOrganization",
    });
    expect(byMethod.auditEvents).toHaveLength(1);
    await expectError(
      c.audit.listAuditEvents({
        startTime: timestampFromDate(new Date()),
        endTime: timestampFromDate(new Date(Date.now() - 1000)),
      }),
      Code.InvalidArgument,
      "INVALID_FIELD",
    );

    // Another organization sees none of it.
    const other = await seedOrg(t.db);
    const theirs = await clientsFor(url, other.secret).audit.listAuditEvents({});
    expect(theirs.auditEvents).toEqual([]);
  });

  test("errors carry the request id", async () => {
    const err = await expectError(
      clientsFor(url, undefined, { "x-request-id": "trace-123" }).orgs.getOrganization({}),
      Code.Unauthenticated,
      "CREDENTIALS_MISSING",
    );
    expect(errorInfo(err)?.metadata.requestId).toBe("trace-123");
  });
});

describe("guard rails", () => {
  test("mutating calls are rate limited per organization with retry info", async () => {
    const limited = await startIamServer(t.db, {
      limits: { writes: { points: 3, durationMs: 60_000 } },
    });
    try {
      const owner = await seedOrg(t.db);
      const c = clientsFor(limited.server.url, owner.secret);
      for (let i = 0; i < 3; i++)
        await c.orgs.updateOrganization({ organizationId: owner.orgId, name: `n${i}` });
      const err = await expectError(
        c.orgs.updateOrganization({ organizationId: owner.orgId, name: "again" }),
        Code.ResourceExhausted,
        "RATE_LIMITED",
      );
      const info = errorInfo(err);
      expect(Number(info?.metadata.retryAfterMs)).toBeGreaterThan(0);
      expect(info?.metadata.limit).toBe("3");
      expect(err.findDetails(RetryInfoSchema)[0]?.retryDelay).toBeDefined();
      // Reads have their own budget; another organization has its own.
      await c.orgs.getOrganization({});
      const other = await seedOrg(t.db);
      await clientsFor(limited.server.url, other.secret).orgs.updateOrganization({
        organizationId: other.orgId,
        name: "fine",
      });
      // Throttled calls are not audited.
      const audited = await t.db("audit_events").where({ organization_id: owner.orgId });
      expect(audited).toHaveLength(3);
    } finally {
      await limited.close();
    }
  });

  test("a failing limiter refuses calls (fail closed)", async () => {
    const working = createMemorySharedState();
    const broken: SharedState = {
      ...working,
      rateLimiter: () => ({
        consume: async () => {
          throw new Error("redis down");
        },
      }),
    };
    const failing = await startIamServer(t.db, { shared: broken });
    try {
      const owner = await seedOrg(t.db);
      await expectError(
        clientsFor(failing.server.url, owner.secret).orgs.getOrganization({}),
        Code.ResourceExhausted,
        "RATE_LIMITED",
      );
    } finally {
      await failing.close();
    }
  });

  test("failed authentications are throttled per client IP", async () => {
    const guarded = await startIamServer(t.db, {
      trustClientIpHeader: true,
      limits: { authFailures: { points: 3, durationMs: 60_000 } },
    });
    try {
      const owner = await seedOrg(t.db);
      const attacker = { "x-cove-client-ip": "203.0.113.7" };
      for (let i = 0; i < 3; i++) {
        await expectError(
          clientsFor(
            guarded.server.url,
            `cove_sk_${String(i).repeat(43)}`,
            attacker,
          ).orgs.getOrganization({}),
          Code.Unauthenticated,
          "API_KEY_INVALID",
        );
      }
      await expectError(
        clientsFor(guarded.server.url, `cove_sk_${"9".repeat(43)}`, attacker).orgs.getOrganization(
          {},
        ),
        Code.ResourceExhausted,
        "RATE_LIMITED",
      );
      // Blocked IPs are refused before any lookup, even with a good key.
      await expectError(
        clientsFor(guarded.server.url, owner.secret, attacker).orgs.getOrganization({}),
        Code.ResourceExhausted,
        "RATE_LIMITED",
      );
      // Others are not affected.
      await clientsFor(guarded.server.url, owner.secret, {
        "x-cove-client-ip": "198.51.100.1",
      }).orgs.getOrganization({});
    } finally {
      await guarded.close();
    }
    // A server that does not stamp the client IP ignores the header and counts nothing, so
    // one client's failures never lock out everybody.
    for (let i = 0; i < 25; i++) {
      await expectError(
        clientsFor(url, `cove_sk_${"7".repeat(43)}`, {
          "x-cove-client-ip": "203.0.113.7",
        }).orgs.getOrganization({}),
        Code.Unauthenticated,
        "API_KEY_INVALID",
      );
    }
  });

  test("a procedure missing from the access table is denied; health is public", async () => {
    const rules = { ...METHOD_RULES };
    delete (rules as Record<string, unknown>)["cove.iam.v1.AuditService/ListAuditEvents"];
    const narrowed = await startIamServer(t.db, { rules });
    try {
      const owner = await seedOrg(t.db);
      const err = await expectError(
        clientsFor(narrowed.server.url, owner.secret).audit.listAuditEvents({}),
        Code.PermissionDenied,
        "PERMISSION_DENIED",
      );
      expect(err.rawMessage).toMatch(/no access rule/);
      await expectError(
        clientsFor(narrowed.server.url, undefined).audit.listAuditEvents({}),
        Code.PermissionDenied,
        "PERMISSION_DENIED",
      );
      const health = clientsFor(narrowed.server.url, undefined).client(Health);
      const res = await health.check({});
      expect(res.status).toBe(1);
    } finally {
      await narrowed.close();
    }
  });
});
