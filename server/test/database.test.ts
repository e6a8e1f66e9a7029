import { createTestDatabase, type TestDatabase } from "./database.js";

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t.drop());

test("migrations create the schema on a real Postgres", async () => {
  const tables = await t
    .db("information_schema.tables")
    .where({ table_schema: "public" })
    .pluck("table_name");
  expect(tables).toEqual(
    expect.arrayContaining([
      "organizations",
      "api_keys",
      "sandboxes",
      "runners",
      "runner_commands",
      "audit_events",
    ]),
  );
  const [{ server_version }] = (await t.db.raw("SHOW server_version")).rows;
  expect(Number.parseInt(server_version, 10)).toBeGreaterThanOrEqual(15);
});

test("an idempotency key is unique per organization", async () => {
  await t.db("organizations").insert({ id: "org_a", name: "A" });
  const row = {
    organization_id: "org_a",
    image: "i",
    state: "PENDING",
    desired_state: "STARTED",
    cpu_millicores: 1,
    memory_mib: 1,
    disk_mib: 1,
    idempotency_key: "k",
  };
  await t.db("sandboxes").insert({ id: "sbx1", ...row });
  await expect(t.db("sandboxes").insert({ id: "sbx2", ...row })).rejects.toThrow(
    /sandboxes_idempotency/,
  );
});
