// A new organization gets its first key through the API: its creator (now its OWNER) asks
// CreateApiKey for a key in it; nobody else can.
import { Code } from "@connectrpc/connect";
import { createTestDatabase, type TestDatabase } from "./database.js";
import { clientsFor, expectError, type IamServer, seedOrg, startIamServer } from "./iam-harness.js";

let t: TestDatabase;
let iam: IamServer;
beforeAll(async () => {
  t = await createTestDatabase();
  iam = await startIamServer(t.db);
});
afterAll(async () => {
  await iam.close();
  await t.drop();
});

test("the creator of an organization can mint its first key; an outsider gets NotFound", async () => {
  const alice = await seedOrg(t.db);
  const bob = await seedOrg(t.db);
  const asAlice = clientsFor(iam.server.url, alice.secret);
  const { organization } = await asAlice.orgs.createOrganization({ name: "side project" });
  const orgId = organization?.organizationId ?? "";
  expect(orgId).not.toBe(alice.orgId);

  const { secret, apiKey } = await asAlice.keys.createApiKey({
    name: "side",
    scopes: ["*"],
    organizationId: orgId,
  });
  expect(apiKey?.organizationId).toBe(orgId);
  const asNewKey = clientsFor(iam.server.url, secret);
  const seen = await asNewKey.orgs.getOrganization({ organizationId: "" });
  expect(seen.organization?.organizationId).toBe(orgId);

  await expectError(
    clientsFor(iam.server.url, bob.secret).keys.createApiKey({
      name: "x",
      scopes: ["*"],
      organizationId: orgId,
    }),
    Code.NotFound,
  );
});

test("a key never mints a key for another organization its user belongs to", async () => {
  // The probe: bob's key of organization B, bob also a member (even OWNER) of A.
  const a = await seedOrg(t.db);
  const bob = await seedOrg(t.db);
  for (const role of ["OWNER", "MEMBER"] as const) {
    await t.db("members").where({ organization_id: a.orgId, user_id: bob.userId }).delete();
    await t.db("members").insert({ organization_id: a.orgId, user_id: bob.userId, role });
    const err = await expectError(
      clientsFor(iam.server.url, bob.secret).keys.createApiKey({
        name: "escape",
        scopes: ["*"],
        organizationId: a.orgId,
      }),
      Code.PermissionDenied,
      "PERMISSION_DENIED",
    );
    expect(err.rawMessage).toMatch(/its own organization/);
  }
  const keys = await t.db("api_keys").where({ organization_id: a.orgId });
  expect(keys).toHaveLength(1);
});

test("only the first key of a new organization can be minted from outside, never wider than the caller", async () => {
  const alice = await seedOrg(t.db, { scopes: ["organization:write", "api_keys:write"] });
  const asAlice = clientsFor(iam.server.url, alice.secret);
  const { organization } = await asAlice.orgs.createOrganization({ name: "narrow" });
  const orgId = organization?.organizationId ?? "";

  await expectError(
    asAlice.keys.createApiKey({ name: "wide", scopes: ["*"], organizationId: orgId }),
    Code.PermissionDenied,
    "PERMISSION_DENIED",
  );
  await expectError(
    asAlice.keys.createApiKey({ name: "wide", scopes: ["sandboxes:write"], organizationId: orgId }),
    Code.PermissionDenied,
    "PERMISSION_DENIED",
  );
  const first = await asAlice.keys.createApiKey({
    name: "first",
    scopes: ["api_keys:write"],
    organizationId: orgId,
  });
  expect(first.apiKey?.scopes).toEqual(["api_keys:write"]);
  // A second one from outside is refused: from now on the organization's own keys mint keys.
  await expectError(
    asAlice.keys.createApiKey({
      name: "second",
      scopes: ["api_keys:write"],
      organizationId: orgId,
    }),
    Code.PermissionDenied,
    "PERMISSION_DENIED",
  );
  const own = await clientsFor(iam.server.url, first.secret).keys.createApiKey({
    name: "second",
    scopes: ["api_keys:write"],
  });
  expect(own.apiKey?.organizationId).toBe(orgId);
});
