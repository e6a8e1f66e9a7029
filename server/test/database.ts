import { randomBytes } from "node:crypto";
import type { Knex } from "knex";
import { migrate, openDatabase } from "../src/db/database.js";

/** A fresh, migrated database of its own for one test file, on the run's shared Postgres. */
export interface TestDatabase {
  /** postgres:// URL of this database. */
  url: string;
  /** A knex pool on it. */
  db: Knex;
  /** drop closes the pool and drops the database. */
  drop(): Promise<void>;
}

/** createTestDatabase makes `cove_test_<random>` on the shared test Postgres and migrates it. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const admin = process.env.COVE_TEST_DATABASE_URL;
  if (!admin)
    throw new Error("COVE_TEST_DATABASE_URL is not set: run the tests through jest (global setup)");
  const name = `cove_test_${randomBytes(6).toString("hex")}`;
  const adminDb = openDatabase(admin, { poolMax: 1 });
  await adminDb.raw(`CREATE DATABASE ${name}`);
  await adminDb.destroy();
  const url = admin.replace(/\/[^/]*$/, `/${name}`);
  const db = openDatabase(url);
  await migrate(db);
  return {
    url,
    db,
    async drop() {
      await db.destroy();
      const again = openDatabase(admin, { poolMax: 1 });
      await again.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await again.destroy();
    },
  };
}
