/**
 * First-start bootstrap: an organization "default", a user "admin@localhost" who owns it, and an
 * operator API key for that user, whose secret is kept in `<dataDir>/admin-api-key` (mode 0600)
 * so later starts can hand it back. The database keeps only the key's hash, as for every key.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import type { Knex } from "knex";
import { newId } from "../../ids.js";
import { hashSecret, issueApiKey, looksLikeApiKey } from "./api-keys.js";
import { ALL_SCOPES, OPERATOR_SCOPE } from "./scopes.js";
import { ensureUser } from "./users.js";

/** The bootstrap user's email. */
export const ADMIN_EMAIL = "admin@localhost";
/** The bootstrap organization's name. */
export const DEFAULT_ORGANIZATION_NAME = "default";
/** The file under the data directory that holds the admin key's secret. */
export const ADMIN_KEY_FILE = "admin-api-key";
/** The bootstrap key's display name. */
export const ADMIN_KEY_NAME = "admin (bootstrap)";

/** Serializes bootstraps of every process on one database (pg_advisory_xact_lock key). */
const BOOTSTRAP_LOCK = 0x636f7665; // "cove"

/** What ensureAdmin returns. */
export interface EnsureAdminResult {
  /** The admin API key's secret. */
  apiKey: string;
  /** True when this call made the key: print it once. False: it was made before; do not log it. */
  created: boolean;
}

async function readKeyFile(file: string): Promise<string | undefined> {
  try {
    return (await fs.readFile(file, "utf8")).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

async function writeKeyFile(file: string, secret: string): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  await fs.writeFile(tmp, `${secret}\n`, { mode: 0o600, flag: "wx" });
  await fs.rename(tmp, file);
}

/**
 * ensureAdmin makes sure the admin organization, user and operator key exist, and returns the
 * key. Safe when several processes start at once: the whole check-and-create runs in one
 * transaction under a Postgres advisory lock, so exactly one of them creates the key and the
 * others read it from the file. If the file is missing, or names a key that no longer works
 * (revoked, or another database), a new key is issued for the same user and organization and
 * the file replaced. Each data directory therefore holds its own key; replicas with separate
 * data directories get one each.
 */
export async function ensureAdmin(
  db: Knex,
  options: { dataDir: string },
): Promise<EnsureAdminResult> {
  await fs.mkdir(options.dataDir, { recursive: true, mode: 0o700 });
  const file = path.join(options.dataDir, ADMIN_KEY_FILE);
  return db.transaction(async (trx) => {
    await trx.raw("select pg_advisory_xact_lock(?)", [BOOTSTRAP_LOCK]);
    const stored = await readKeyFile(file);
    if (stored && looksLikeApiKey(stored)) {
      const row = await trx("api_keys")
        .where({ secret_hash: hashSecret(stored) })
        .whereNull("revoke_time")
        .first("id");
      if (row) return { apiKey: stored, created: false };
    }
    const user = await ensureUser(trx, ADMIN_EMAIL, "admin");
    let org = await trx("organizations as o")
      .join("members as m", "m.organization_id", "o.id")
      .where({ "m.user_id": user.id, "m.role": "OWNER", "o.name": DEFAULT_ORGANIZATION_NAME })
      .whereNull("o.delete_time")
      .orderBy("o.create_time", "asc")
      .first("o.id");
    if (!org) {
      const id = newId("org");
      await trx("organizations").insert({ id, name: DEFAULT_ORGANIZATION_NAME });
      await trx("members").insert({ organization_id: id, user_id: user.id, role: "OWNER" });
      org = { id };
    }
    const { secret } = await issueApiKey(trx, {
      organizationId: org.id,
      userId: user.id,
      name: ADMIN_KEY_NAME,
      scopes: [ALL_SCOPES, OPERATOR_SCOPE],
    });
    await writeKeyFile(file, secret);
    return { apiKey: secret, created: true };
  });
}
