import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Code } from "@connectrpc/connect";
import {
  ADMIN_EMAIL,
  ADMIN_KEY_FILE,
  ADMIN_KEY_NAME,
  ensureAdmin,
} from "../src/domain/iam/admin-bootstrap.js";
import { hashSecret } from "../src/domain/iam/api-keys.js";
import { createTestDatabase, type TestDatabase } from "./database.js";
import { clientsFor, expectError, type IamServer, startIamServer } from "./iam-harness.js";

let t: TestDatabase;
let iam: IamServer;
let dataDir: string;

beforeAll(async () => {
  t = await createTestDatabase();
  iam = await startIamServer(t.db);
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "cove-admin-"));
});
afterAll(async () => {
  await iam?.close();
  await t?.drop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

test("two processes starting at once make one admin key; later starts reuse it", async () => {
  const dir = path.join(dataDir, "data");
  const [first, second] = await Promise.all([
    ensureAdmin(t.db, { dataDir: dir }),
    ensureAdmin(t.db, { dataDir: dir }),
  ]);
  expect([first.created, second.created].sort()).toEqual([false, true]);
  expect(first.apiKey).toBe(second.apiKey);
  expect(first.apiKey).toMatch(/^cove_sk_/);

  const file = path.join(dir, ADMIN_KEY_FILE);
  expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  expect(fs.readFileSync(file, "utf8").trim()).toBe(first.apiKey);

  const keys = await t.db("api_keys").where({ name: ADMIN_KEY_NAME });
  expect(keys).toHaveLength(1);
  expect(keys[0].secret_hash).toBe(hashSecret(first.apiKey));
  expect(keys[0].scopes.sort()).toEqual(["*", "operator"]);
  expect(await t.db("users").where({ email: ADMIN_EMAIL })).toHaveLength(1);
  const orgs = await t.db("organizations").where({ name: "default" });
  expect(orgs).toHaveLength(1);
  expect(await t.db("members").where({ organization_id: orgs[0].id, role: "OWNER" })).toHaveLength(
    1,
  );

  const again = await ensureAdmin(t.db, { dataDir: dir });
  expect(again).toEqual({ apiKey: first.apiKey, created: false });

  // The key is an OWNER's "*" key with operator.
  const c = clientsFor(iam.server.url, first.apiKey);
  const org = await c.orgs.getOrganization({});
  expect(org.organization?.name).toBe("default");
  await c.orgs.updateQuota({ organizationId: orgs[0].id, quota: { maxSandboxes: 50 } });
});

test("a lost or revoked key file is replaced with a new key in the same organization", async () => {
  const dir = path.join(dataDir, "lost");
  const first = await ensureAdmin(t.db, { dataDir: dir });
  fs.rmSync(path.join(dir, ADMIN_KEY_FILE));
  const second = await ensureAdmin(t.db, { dataDir: dir });
  expect(second.created).toBe(true);
  expect(second.apiKey).not.toBe(first.apiKey);

  await t
    .db("api_keys")
    .where({ secret_hash: hashSecret(second.apiKey) })
    .update({ revoke_time: t.db.fn.now() });
  const third = await ensureAdmin(t.db, { dataDir: dir });
  expect(third.created).toBe(true);
  await expectError(
    clientsFor(iam.server.url, second.apiKey).orgs.getOrganization({}),
    Code.Unauthenticated,
    "API_KEY_REVOKED",
  );
  expect(await t.db("organizations").where({ name: "default" })).toHaveLength(1);
});
