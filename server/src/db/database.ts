import knexFactory, { type Knex } from "knex";
import * as initial from "./migrations/001-initial.js";

/** A migration module: up and down. */
interface Migration {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

/** Every migration, in order. New ones are appended, never edited once released. */
const migrations: Array<[string, Migration]> = [["001-initial", initial]];

/** The migration source knex runs: modules imported here, so no files are loaded at run time. */
const migrationSource: Knex.MigrationSource<[string, Migration]> = {
  getMigrations: async () => migrations,
  getMigrationName: ([name]) => name,
  getMigration: async ([, migration]) => migration,
};

/** openDatabase connects a knex pool to Postgres. */
export function openDatabase(url: string, options: { poolMax?: number } = {}): Knex {
  return knexFactory({
    client: "pg",
    connection: url,
    pool: { min: 0, max: options.poolMax ?? 10 },
    acquireConnectionTimeout: 10_000,
  });
}

/** migrate brings the schema up to date (safe to run from several processes: knex locks). */
export async function migrate(db: Knex): Promise<void> {
  await db.migrate.latest({ migrationSource });
}
