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
