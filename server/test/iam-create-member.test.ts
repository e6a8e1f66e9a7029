// OrganizationService.CreateMember: an admin adds a member by email, the user is created when
// there is none, and the member can be handed a first API key that works at once.
import { Code } from "@connectrpc/connect";
import { ApiKeyState } from "@cove/gen-ts/cove/iam/v1/api_key_pb.js";
import { Role } from "@cove/gen-ts/cove/iam/v1/organization_pb.js";
import { ensureUser } from "../src/domain/iam/users.js";
import { createTestDatabase, type TestDatabase } from "./database.js";
import { clientsFor, expectError, type IamServer, seedOrg, startIamServer } from "./iam-harness.js";

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

const count = async (table: string, where: Record<string, string> = {}) =>
  Number((await t.db(table).where(where).count<{ n: string }[]>({ n: "*" }).first())?.n ?? 0);

describe("CreateMember", () => {
  test("creates the user, the membership and a first key the new member can use at once", async () => {
    const owner = await seedOrg(t.db);
    const c = clientsFor(url, owner.secret);
    const email = `Ada.${owner.orgId}@Example.test`;
    const res = await c.orgs.createMember({
      organizationId: owner.orgId,
      email,
      displayName: "Ada Lovelace",
      role: Role.MEMBER,
      apiKeyScopes: ["sandboxes:read", "sandboxes:write", "organization:read", "api_keys:read"],
    });
    expect(res.userCreated).toBe(true);
    expect(res.member).toMatchObject({
      organizationId: owner.orgId,
      email: email.toLowerCase(),
      displayName: "Ada Lovelace",
      role: Role.MEMBER,
    });
    expect(res.apiKey).toMatchObject({
      organizationId: owner.orgId,
      createdByUserId: res.member?.userId,
      name: email.toLowerCase(),
      state: ApiKeyState.ACTIVE,
    });
    expect(res.apiKeySecret).toMatch(/^cove_sk_/);

    // The new member's key acts as them, with their role, in this organization.
    const ada = clientsFor(url, res.apiKeySecret);
    const got = await ada.orgs.getOrganization({});
    expect([got.organization?.organizationId, got.role]).toEqual([owner.orgId, Role.MEMBER]);
    const own = await ada.keys.listApiKeys({});
    expect(own.apiKeys.map((k) => k.apiKeyId)).toEqual([res.apiKey?.apiKeyId]);
    await expectError(ada.audit.listAuditEvents({}), Code.PermissionDenied, "PERMISSION_DENIED");

    const members = await c.orgs.listMembers({ organizationId: owner.orgId });
    expect(members.members.map((m) => m.email).sort()).toEqual(
      [owner.email, email.toLowerCase()].sort(),
    );

    // Audited as a change to the member, never with the secret.
    const events = await c.audit.listAuditEvents({
      method: "cove.iam.v1.OrganizationService/CreateMember",
    });
    expect(events.auditEvents[0]).toMatchObject({
      resourceType: "member",
      resourceId: res.member?.userId,
      code: "OK",
    });
    expect(JSON.stringify(await t.db("audit_events").select("*"))).not.toContain(res.apiKeySecret);
  });

  test("an existing user keeps their name; no key unless asked; twice is ALREADY_EXISTS with nothing made", async () => {
    const owner = await seedOrg(t.db);
    const c = clientsFor(url, owner.secret);
    const existing = await ensureUser(t.db, `grace-${owner.orgId}@example.test`, "Grace");
    const res = await c.orgs.createMember({
      organizationId: owner.orgId,
      email: existing.email,
      displayName: "Someone Else",
      role: Role.VIEWER,
    });
    expect(res.userCreated).toBe(false);
    expect(res.member).toMatchObject({ userId: existing.id, displayName: "Grace" });
    expect(res.apiKey).toBeUndefined();
    expect(res.apiKeySecret).toBe("");

    const keysBefore = await count("api_keys", { organization_id: owner.orgId });
    await expectError(
      c.orgs.createMember({
        organizationId: owner.orgId,
        email: existing.email.toUpperCase(),
        role: Role.MEMBER,
        apiKeyScopes: ["sandboxes:read"],
      }),
      Code.AlreadyExists,
      "MEMBER_ALREADY_EXISTS",
    );
    expect(await count("api_keys", { organization_id: owner.orgId })).toBe(keysBefore);
  });

  test("keys never exceed the calling key nor the new member's role; operator is never granted", async () => {
    const admin = await seedOrg(t.db, { role: "ADMIN", scopes: ["organization:write"] });
    const narrow = clientsFor(url, admin.secret);
    const email = `eve-${admin.orgId}@example.test`;
    // The calling key has no sandboxes:write to pass on.
    await expectError(
      narrow.orgs.createMember({
        organizationId: admin.orgId,
        email,
        role: Role.MEMBER,
        apiKeyScopes: ["sandboxes:write"],
      }),
      Code.PermissionDenied,
      "PERMISSION_DENIED",
    );
    const owner = await seedOrg(t.db);
    const c = clientsFor(url, owner.secret);
    // A VIEWER may not write sandboxes, nor hold "*".
    for (const scopes of [["sandboxes:write"], ["*"], ["operator"]]) {
      await expectError(
        c.orgs.createMember({
          organizationId: owner.orgId,
          email,
          role: Role.VIEWER,
          apiKeyScopes: scopes,
        }),
        Code.PermissionDenied,
        "PERMISSION_DENIED",
      );
    }
    await expectError(
      c.orgs.createMember({
        organizationId: owner.orgId,
        email,
        role: Role.MEMBER,
        apiKeyScopes: ["sandboxes:everything"],
      }),
      Code.InvalidArgument,
      "INVALID_FIELD",
    );
    // None of the refusals created the user.
    expect(await count("users", { email })).toBe(0);
  });

  test("only ADMIN and OWNER add members, only OWNER adds owners, bad fields are INVALID_ARGUMENT", async () => {
    const owner = await seedOrg(t.db);
    const member = await seedOrg(t.db, { orgId: owner.orgId, role: "MEMBER" });
    const admin = await seedOrg(t.db, { orgId: owner.orgId, role: "ADMIN" });
    const email = `new-${owner.orgId}@example.test`;
    await expectError(
      clientsFor(url, member.secret).orgs.createMember({
        organizationId: owner.orgId,
        email,
        role: Role.VIEWER,
      }),
      Code.PermissionDenied,
      "PERMISSION_DENIED",
    );
    await expectError(
      clientsFor(url, admin.secret).orgs.createMember({
        organizationId: owner.orgId,
        email,
        role: Role.OWNER,
      }),
      Code.PermissionDenied,
      "PERMISSION_DENIED",
    );
    const c = clientsFor(url, owner.secret);
    for (const bad of ["", "no-at-sign", "two@@example.test", "a b@example.test", "x@localhost"]) {
      await expectError(
        c.orgs.createMember({ organizationId: owner.orgId, email: bad, role: Role.MEMBER }),
        Code.InvalidArgument,
        "INVALID_FIELD",
      );
    }
    await expectError(
      c.orgs.createMember({
        organizationId: owner.orgId,
        email: `${"a".repeat(250)}@example.test`,
        role: Role.MEMBER,
      }),
      Code.InvalidArgument,
      "INVALID_FIELD",
    );
    await expectError(
      c.orgs.createMember({ organizationId: owner.orgId, email, role: Role.UNSPECIFIED }),
      Code.InvalidArgument,
      "INVALID_FIELD",
    );
    await expectError(
      c.orgs.createMember({
        organizationId: owner.orgId,
        email,
        displayName: "line\nbreak",
        role: Role.MEMBER,
      }),
      Code.InvalidArgument,
      "INVALID_FIELD",
    );
    const made = await c.orgs.createMember({
      organizationId: owner.orgId,
      email,
      role: Role.OWNER,
    });
    expect(made.member?.role).toBe(Role.OWNER);
  });

  test("another organization is NOT_FOUND before the request is judged", async () => {
    const a = await seedOrg(t.db);
    const b = await seedOrg(t.db);
    await expectError(
      clientsFor(url, b.secret).orgs.createMember({
        organizationId: a.orgId,
        email: "not even an email",
        role: Role.UNSPECIFIED,
      }),
      Code.NotFound,
      "ORGANIZATION_NOT_FOUND",
    );
    expect(await count("members", { organization_id: a.orgId })).toBe(1);
  });
});
