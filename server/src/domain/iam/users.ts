/**
 * Users and memberships as the IAM domain reads them, who the caller is, and the paging helpers
 * the IAM lists share. Plain TypeScript over knex; errors are CoveErrors.
 */
import { CoveError, invalidArgument, permissionDenied } from "@cove/common";
import type { Knex } from "knex";
import { newId } from "../../ids.js";
import type { Principal } from "../../principal.js";
import { ROLE_NAMES, type RoleName } from "./scopes.js";

/** A user as stored. */
export interface UserRecord {
  /** User id ("usr_…"). */
  id: string;
  /** Email address, lower case. */
  email: string;
  /** Display name; may be empty. */
  name: string;
  /** When the user was created. */
  createTime: Date;
}

/** An API key caller, the only kind the IAM services serve. */
export type ApiKeyCaller = Extract<Principal, { kind: "apiKey" }>;

/**
 * apiKeyCaller returns the principal if it is an API key, and refuses anything else: no
 * principal means the auth interceptor did not run (UNAUTHENTICATED), a runner or the proxy
 * has no business here (PERMISSION_DENIED).
 */
export function apiKeyCaller(principal: Principal | undefined): ApiKeyCaller {
  if (!principal) {
    throw new CoveError("unauthenticated", "CREDENTIALS_MISSING", "no credentials were sent");
  }
  if (principal.kind !== "apiKey") {
    throw permissionDenied("PERMISSION_DENIED", "this call needs an API key");
  }
  return principal;
}

/** userCaller is apiKeyCaller for calls that act as a user; keys without one are refused. */
export function userCaller(principal: Principal | undefined): ApiKeyCaller & { userId: string } {
  const caller = apiKeyCaller(principal);
  if (!caller.userId) {
    throw permissionDenied("PERMISSION_DENIED", "this API key does not act as a user");
  }
  return caller as ApiKeyCaller & { userId: string };
}

/** normalizeEmail trims and lower-cases an email address; users are unique by it. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

function toUser(row: { id: string; email: string; name: string; create_time: Date }): UserRecord {
  return { id: row.id, email: row.email, name: row.name, createTime: row.create_time };
}

/** findUserByEmail returns the user with this email, or undefined. */
export async function findUserByEmail(
  db: Knex | Knex.Transaction,
  email: string,
): Promise<UserRecord | undefined> {
  const row = await db("users")
    .where({ email: normalizeEmail(email) })
    .first();
  return row ? toUser(row) : undefined;
}

/** ensureUser returns the user with this email, creating it if there is none (race-safe). */
export async function ensureUser(
  db: Knex | Knex.Transaction,
  email: string,
  name = "",
): Promise<UserRecord> {
  const normalized = normalizeEmail(email);
  await db("users")
    .insert({ id: newId("usr"), email: normalized, name })
    .onConflict("email")
    .ignore();
  const user = await findUserByEmail(db, normalized);
  if (!user) throw new Error(`user ${normalized} vanished after insert`);
  return user;
}

/** roleOf returns a user's role in an organization, or undefined when not a member. */
export async function roleOf(
  db: Knex | Knex.Transaction,
  organizationId: string,
  userId: string | undefined,
): Promise<RoleName | undefined> {
  if (!userId) return undefined;
  const row = await db("members")
    .where({ organization_id: organizationId, user_id: userId })
    .first("role");
  return row ? parseRole(row.role) : undefined;
}

/** parseRole checks a stored role string. */
export function parseRole(value: string): RoleName {
  if ((ROLE_NAMES as readonly string[]).includes(value)) return value as RoleName;
  throw new Error(`unknown role in the database: ${value}`);
}

/** requireRole refuses (PERMISSION_DENIED, metadata requiredRole) unless role is one of `allowed`. */
export function requireRole(
  role: RoleName | undefined,
  allowed: readonly RoleName[],
  what: string,
): void {
  if (role && allowed.includes(role)) return;
  throw permissionDenied("PERMISSION_DENIED", `${what} needs role ${allowed.join(" or ")}`, {
    requiredRole: allowed.join(","),
  });
}

// Paging, shared by the IAM lists.

/** Default and largest page sizes of every IAM list. */
export const PAGE_SIZE_DEFAULT = 50;
/** Largest page size; larger requests are cut to it. */
export const PAGE_SIZE_MAX = 500;

/** pageSizeOf applies the default (0) and the cap, and refuses negative sizes. */
export function pageSizeOf(pageSize: number): number {
  if (pageSize < 0) throw invalidArgument("page_size", "must not be negative");
  if (pageSize === 0) return PAGE_SIZE_DEFAULT;
  return Math.min(pageSize, PAGE_SIZE_MAX);
}

/**
 * encodePageToken makes an opaque token from the last row's sort keys and, optionally, a
 * fingerprint of the filters the page was made with.
 */
export function encodePageToken(keys: readonly (string | number)[], filters = ""): string {
  return Buffer.from(JSON.stringify({ k: keys, f: filters })).toString("base64url");
}

/**
 * decodePageToken reads a token made by encodePageToken with `count` keys; undefined for an
 * empty token, INVALID_ARGUMENT for a malformed one or one made with other filters.
 */
export function decodePageToken(
  token: string,
  count: number,
  filters = "",
): (string | number)[] | undefined {
  if (token === "") return undefined;
  const bad = () => invalidArgument("page_token", "is not a token this list returned");
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    throw bad();
  }
  if (typeof parsed !== "object" || parsed === null) throw bad();
  const { k, f } = parsed as { k?: unknown; f?: unknown };
  if (!Array.isArray(k) || k.length !== count) throw bad();
  if (!k.every((v) => typeof v === "string" || typeof v === "number")) throw bad();
  if (f !== filters) {
    throw invalidArgument("page_token", "was made with other filters; keep them between pages");
  }
  return k as (string | number)[];
}

/** validateName checks a display name of 1–100 characters. */
export function validateName(field: string, name: string): string {
  const length = [...name].length;
  if (length < 1 || length > 100 || name.trim() === "") {
    throw invalidArgument(field, "must be 1-100 characters");
  }
  return name;
}
