/**
 * Short-lived access tokens bound to one sandbox: preview tokens (bound to one port; also the
 * token of a signed preview URL), SSH tokens (the SSH user name) and sandbox tokens (toolbox
 * and previews without an API key). Only the SHA-256 of a token is stored, in access_tokens;
 * the secret is returned once. The proxy checks tokens through EdgeService, which calls
 * verifyAccessToken.
 */
import { createHash } from "node:crypto";
import { CoveError, notFound } from "@cove/common";
import type { Knex } from "knex";
import { newId, randomId } from "../../ids.js";
import type { Violations } from "./validation.js";

/** The kinds of access token, as stored in access_tokens.kind. */
export type AccessTokenKind = "preview" | "ssh" | "sandbox";

/** Where tokens are used: the proxy's addresses. */
export interface AccessUrls {
  /** Base URL of the proxy's toolbox endpoint, e.g. "http://localhost:4000". */
  toolboxUrl: string;
  /** Preview URL with {port} and {sandboxId} placeholders. */
  previewUrlTemplate: string;
  /** Query parameter that carries the token in a signed preview URL. */
  signedUrlParam: string;
  /** SSH gateway host. */
  sshHost: string;
  /** SSH gateway port. */
  sshPort: number;
}

/** Addresses for a proxy running on this machine with default ports. */
export const DEFAULT_ACCESS_URLS: AccessUrls = {
  toolboxUrl: "http://localhost:4000",
  previewUrlTemplate: "http://{port}-{sandboxId}.preview.localhost:4000",
  signedUrlParam: "cove_token",
  sshHost: "localhost",
  sshPort: 2222,
};

/** Default, minimum and maximum token lifetimes, ms, per kind (from the proto). */
export const TOKEN_EXPIRY: Record<
  AccessTokenKind,
  { defaultMs: number; minMs: number; maxMs: number }
> = {
  preview: { defaultMs: 3600_000, minMs: 60_000, maxMs: 24 * 3600_000 },
  ssh: { defaultMs: 3600_000, minMs: 60_000, maxMs: 24 * 3600_000 },
  sandbox: { defaultMs: 15 * 60_000, minMs: 60_000, maxMs: 24 * 3600_000 },
};

const PREFIX: Record<AccessTokenKind, string> = { preview: "cvp_", ssh: "cvs_", sandbox: "cvt_" };

/** hashToken is how tokens are stored and looked up: hex SHA-256. */
export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/** tokenExpiryMs validates a requested lifetime (undefined or 0 takes the kind's default). */
export function tokenExpiryMs(
  kind: AccessTokenKind,
  ms: number | undefined,
  violations: Violations,
  field = "expiry",
): number {
  const bounds = TOKEN_EXPIRY[kind];
  if (ms === undefined || ms === 0) return bounds.defaultMs;
  if (ms < bounds.minMs) violations.add(field, "at least 1 minute");
  if (ms > bounds.maxMs) violations.add(field, "at most 24 hours");
  return ms;
}

/** previewUrl fills the preview URL template. */
export function previewUrl(template: string, port: number, sandboxId: string): string {
  return template.replaceAll("{port}", String(port)).replaceAll("{sandboxId}", sandboxId);
}

/** signedPreviewUrl is the preview URL with the token as a query parameter. */
export function signedPreviewUrl(url: string, param: string, token: string): string {
  const signed = new URL(url);
  signed.searchParams.set(param, token);
  return signed.toString();
}

/** A freshly minted token: the secret is only ever returned here. */
export interface MintedToken {
  /** Non-secret id (the proxy's credential_id). */
  id: string;
  /** The secret. */
  token: string;
  /** When it stops working. */
  expireTime: Date;
}

/** mintAccessToken stores a new token's hash and returns the token. */
export async function mintAccessToken(
  db: Knex | Knex.Transaction,
  options: {
    kind: AccessTokenKind;
    organizationId: string;
    sandboxId: string;
    port?: number;
    expiryMs: number;
  },
): Promise<MintedToken> {
  const token = `${PREFIX[options.kind]}${randomId(40)}`;
  const id = newId("tok");
  const now = new Date();
  const expireTime = new Date(now.getTime() + options.expiryMs);
  await db("access_tokens").insert({
    id,
    kind: options.kind,
    organization_id: options.organizationId,
    sandbox_id: options.sandboxId,
    token_hash: hashToken(token),
    port: options.port ?? 0,
    create_time: now,
    expire_time: expireTime,
  });
  return { id, token, expireTime };
}

/**
 * revokeSshTokens revokes one SSH token of a sandbox (or all when `token` is empty) and
 * returns the revoked ids. Throws NOT_FOUND SSH_ACCESS_NOT_FOUND for an unknown token.
 */
export async function revokeSshTokens(
  db: Knex | Knex.Transaction,
  organizationId: string,
  sandboxId: string,
  token: string,
): Promise<string[]> {
  const query = db("access_tokens")
    .where({ organization_id: organizationId, sandbox_id: sandboxId, kind: "ssh" })
    .whereNull("revoke_time");
  if (token !== "") query.where({ token_hash: hashToken(token) });
  const rows: Array<{ id: string }> = await query.update({ revoke_time: new Date() }, ["id"]);
  if (token !== "" && rows.length === 0) {
    // Already revoked counts as done; unknown is an error.
    const known = await db("access_tokens")
      .where({
        organization_id: organizationId,
        sandbox_id: sandboxId,
        kind: "ssh",
        token_hash: hashToken(token),
      })
      .first("id");
    if (!known) {
      throw notFound("SSH_ACCESS_NOT_FOUND", `no such SSH access token for sandbox ${sandboxId}`, {
        sandboxId,
      });
    }
  }
  return rows.map((r) => r.id);
}

/** revokeSandboxTokens revokes every live token of a sandbox (on delete); returns their ids. */
export async function revokeSandboxTokens(
  db: Knex | Knex.Transaction,
  organizationId: string,
  sandboxId: string,
): Promise<string[]> {
  const rows: Array<{ id: string }> = await db("access_tokens")
    .where({ organization_id: organizationId, sandbox_id: sandboxId })
    .whereNull("revoke_time")
    .update({ revoke_time: new Date() }, ["id"]);
  return rows.map((r) => r.id);
}

/** What a valid token grants. */
export interface VerifiedAccessToken {
  /** Token id (credential_id). */
  id: string;
  /** Its kind. */
  kind: AccessTokenKind;
  /** The sandbox's organization. */
  organizationId: string;
  /** The sandbox it is bound to. */
  sandboxId: string;
  /** The port it is bound to (preview tokens); 0 = any. */
  port: number;
  /** When it stops working. */
  expireTime: Date;
}

/** The tokenType metadata value the edge reports for each kind. */
const TOKEN_TYPE: Record<AccessTokenKind, string> = {
  preview: "preview",
  ssh: "ssh",
  sandbox: "sandbox",
};

/**
 * verifyAccessToken checks a token of one of `kind` (optionally bound to `sandboxId`) and
 * returns what it grants. Throws UNAUTHENTICATED TOKEN_INVALID for an unknown, revoked or
 * malformed token, a token of another kind or bound to another sandbox, and TOKEN_EXPIRED past
 * its expire_time; metadata tokenType (options.tokenType, e.g. "signed_url", overrides). The
 * caller checks the port of preview tokens. Tokens are revoked when their sandbox is deleted.
 */
export async function verifyAccessToken(
  db: Knex,
  kind: AccessTokenKind | readonly AccessTokenKind[],
  token: string,
  sandboxId?: string,
  options: { tokenType?: string; now?: Date } = {},
): Promise<VerifiedAccessToken> {
  const kinds: readonly AccessTokenKind[] = typeof kind === "string" ? [kind] : kind;
  const tokenType = options.tokenType ?? TOKEN_TYPE[kinds[0] ?? "sandbox"];
  const invalid = () =>
    new CoveError("unauthenticated", "TOKEN_INVALID", `the ${tokenType} token is not valid`, {
      tokenType,
    });
  if (token === "" || token.length > 256) throw invalid();
  const row:
    | {
        id: string;
        kind: AccessTokenKind;
        organization_id: string;
        sandbox_id: string;
        port: number;
        expire_time: Date;
        revoke_time: Date | null;
      }
    | undefined = await db("access_tokens as t")
    .join("sandboxes as s", function () {
      this.on("s.id", "t.sandbox_id").andOn("s.organization_id", "t.organization_id");
    })
    .where("t.token_hash", hashToken(token))
    .whereIn("t.kind", kinds as AccessTokenKind[])
    .first(
      "t.id",
      "t.kind",
      "t.organization_id",
      "t.sandbox_id",
      "t.port",
      "t.expire_time",
      "t.revoke_time",
    );
  if (!row || row.revoke_time) throw invalid();
  if (sandboxId !== undefined && sandboxId !== "" && row.sandbox_id !== sandboxId) throw invalid();
  const expireTime = new Date(row.expire_time);
  if (expireTime.getTime() <= (options.now ?? new Date()).getTime()) {
    throw new CoveError("unauthenticated", "TOKEN_EXPIRED", `the ${tokenType} token has expired`, {
      tokenType,
      expireTime: expireTime.toISOString(),
    });
  }
  return {
    id: row.id,
    kind: row.kind,
    organizationId: row.organization_id,
    sandboxId: row.sandbox_id,
    port: row.port,
    expireTime,
  };
}
