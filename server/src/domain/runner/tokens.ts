import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Knex } from "knex";

/** Prefix of per-runner tokens, so a leaked one is recognizable in logs and secret scanners. */
export const RUNNER_TOKEN_PREFIX = "cove_rt_";

/** hashRunnerToken is the stored form of a runner token: hex sha256 of the whole token. */
export function hashRunnerToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/** newRunnerToken returns a fresh per-runner token (256 random bits) and its hash. */
export function newRunnerToken(): { token: string; hash: string } {
  const token = `${RUNNER_TOKEN_PREFIX}${randomBytes(32).toString("base64url")}`;
  return { token, hash: hashRunnerToken(token) };
}

/** sameSecret compares two secrets in constant time (through their digests, so lengths leak nothing). */
function sameSecret(a: string, b: string): boolean {
  const da = createHash("sha256").update(a, "utf8").digest();
  const db = createHash("sha256").update(b, "utf8").digest();
  return timingSafeEqual(da, db);
}

/**
 * verifyRunnerToken checks a bearer token presented on RunnerService.Connect. It returns the
 * runner id the per-runner token was issued for, "" for the server's shared registration token
 * (the runner then names itself in hello), or undefined when the token is not valid. A database
 * error propagates (the caller answers UNAVAILABLE, never "valid").
 */
export async function verifyRunnerToken(
  db: Knex,
  token: string,
  sharedToken?: string,
): Promise<string | "" | undefined> {
  if (token === "") return undefined;
  if (sharedToken !== undefined && sharedToken !== "" && sameSecret(token, sharedToken)) return "";
  const row = await db("runners")
    .where({ token_hash: hashRunnerToken(token) })
    .first<{ id: string } | undefined>("id");
  return row?.id;
}
