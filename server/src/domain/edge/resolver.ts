/**
 * EdgeResolver answers the proxy's one question — may this caller reach this sandbox this way,
 * and where is it? — in a fixed order so a caller without valid credentials learns nothing:
 * credential (UNAUTHENTICATED), sandbox (NOT_FOUND, also for another organization's),
 * permission (PERMISSION_DENIED), state (FAILED_PRECONDITION), runner (UNAVAILABLE).
 */
import {
  CoveError,
  failedPrecondition,
  notFound,
  permissionDenied,
  unavailable,
} from "@cove/common";
import type { Knex } from "knex";
import type { ApiKeyManager, CredentialWatcher } from "../iam/api-keys.js";
import { hasScope, TOOLBOX_SCOPE } from "../iam/scopes.js";
import { isRunnerAlive } from "../runner/registry.js";
import { verifyAccessToken } from "../sandbox/access-tokens.js";
import type { SandboxStateName } from "../sandbox/ports.js";

/** How the caller wants in. */
export type EdgeAccess = "toolbox" | "preview" | "ssh";

/** What the caller presented. */
export type EdgeCredential =
  | {
      kind: "apiKey" | "sandboxToken" | "previewToken" | "signedUrlToken" | "sshToken";
      secret: string;
    }
  | { kind: "none" };

/** A question from the proxy. */
export interface EdgeQuery {
  /** The sandbox ("" for SSH: the token names it). */
  sandboxId: string;
  /** How. */
  access: EdgeAccess;
  /** Port, for previews. */
  port: number;
  /** The credential. */
  credential: EdgeCredential;
}

/** The answer. */
export interface EdgeRoute {
  sandboxId: string;
  organizationId: string;
  state: SandboxStateName;
  public: boolean;
  runnerId: string;
  toolboxGatewayUrl: string;
  allowedPort: number;
  osUser: string;
  cacheTtlMs: number;
  credentialId: string;
  credentialExpireTime: Date | undefined;
}

/** What a credential grants before the sandbox is looked at. */
interface Grant {
  organizationId: string | undefined;
  sandboxId: string | undefined;
  port: number;
  credentialId: string;
  expireTime: Date | undefined;
}

/** How long the proxy may cache an answer. */
export const EDGE_CACHE_TTL_MS = 30_000;

/** EdgeResolver implements EdgeService.ResolveSandbox. */
export class EdgeResolver {
  constructor(
    private readonly deps: {
      db: Knex;
      apiKeys: ApiKeyManager;
      heartbeatMs?: number;
      cacheTtlMs?: number;
    },
  ) {}

  /** resolve checks a caller's access to a sandbox and says where the sandbox is. */
  async resolve(query: EdgeQuery): Promise<EdgeRoute> {
    const grant = await this.grant(query);
    const sandboxId = query.sandboxId || grant.sandboxId || "";
    if (sandboxId === "") throw notFound("SANDBOX_NOT_FOUND", "no sandbox was named");
    if (grant.sandboxId !== undefined && grant.sandboxId !== sandboxId) {
      throw new CoveError("unauthenticated", "TOKEN_INVALID", "the token is for another sandbox");
    }
    const row = await this.deps
      .db("sandboxes as s")
      .leftJoin("runners as r", "r.id", "s.runner_id")
      .where("s.id", sandboxId)
      .first(
        "s.id",
        "s.organization_id",
        "s.state",
        "s.public",
        "s.os_user",
        "s.runner_id",
        "r.toolbox_gateway_url",
        "r.state as runner_state",
        "r.draining",
        "r.last_heartbeat_time",
      );
    const foreign =
      row && grant.organizationId !== undefined && row.organization_id !== grant.organizationId;
    if (!row || row.state === "DESTROYED" || foreign) {
      throw notFound("SANDBOX_NOT_FOUND", `sandbox ${sandboxId} not found`, { sandboxId });
    }
    if (query.credential.kind === "none" && !(query.access === "preview" && row.public)) {
      throw new CoveError(
        "unauthenticated",
        "CREDENTIALS_MISSING",
        "this sandbox needs a credential",
      );
    }
    if (query.access === "preview" && grant.port !== 0 && query.port !== grant.port) {
      throw permissionDenied("PERMISSION_DENIED", `the token opens port ${grant.port} only`, {
        sandboxId,
        port: String(grant.port),
      });
    }
    if (row.state !== "STARTED") {
      throw failedPrecondition(
        "SANDBOX_STATE_CONFLICT",
        `sandbox ${sandboxId} is ${row.state}, not STARTED`,
        {
          sandboxId,
          state: row.state,
        },
      );
    }
    const runnerReady =
      row.runner_id &&
      isRunnerAlive(
        { state: row.runner_state, draining: false, last_heartbeat_time: row.last_heartbeat_time },
        new Date(),
        this.deps.heartbeatMs,
      );
    if (!runnerReady || !row.toolbox_gateway_url) {
      throw unavailable(
        "RUNNER_UNAVAILABLE",
        `the runner holding sandbox ${sandboxId} is not connected`,
        {
          sandboxId,
        },
      );
    }
    return {
      sandboxId,
      organizationId: row.organization_id,
      state: row.state,
      public: row.public,
      runnerId: row.runner_id,
      toolboxGatewayUrl: row.toolbox_gateway_url,
      allowedPort: grant.port,
      osUser: row.os_user,
      cacheTtlMs: this.deps.cacheTtlMs ?? EDGE_CACHE_TTL_MS,
      credentialId: grant.credentialId,
      credentialExpireTime: grant.expireTime,
    };
  }

  private async grant(query: EdgeQuery): Promise<Grant> {
    const c = query.credential;
    const db = this.deps.db;
    const sandbox = query.sandboxId || undefined;
    const refuse = (what: string) =>
      permissionDenied("PERMISSION_DENIED", `a ${what} cannot be used for ${query.access} access`);
    switch (c.kind) {
      case "none":
        return {
          organizationId: undefined,
          sandboxId: undefined,
          port: 0,
          credentialId: "",
          expireTime: undefined,
        };
      case "apiKey": {
        if (query.access === "ssh") throw refuse("API key");
        const caller = await this.deps.apiKeys.authenticate(c.secret);
        // Previews reach code the sandbox runs, as toolbox calls do: both need write access.
        const needed = TOOLBOX_SCOPE;
        if (!hasScope(caller.scopes, needed)) {
          throw permissionDenied("PERMISSION_DENIED", `the API key lacks scope ${needed}`, {
            scope: needed,
          });
        }
        return {
          organizationId: caller.organizationId,
          sandboxId: undefined,
          port: 0,
          credentialId: caller.apiKeyId,
          // The proxy caches the answer no longer than this, so expiry is exact there too.
          expireTime: caller.expireTime,
        };
      }
      case "sandboxToken": {
        if (query.access === "ssh") throw refuse("sandbox token");
        const token = await verifyAccessToken(db, "sandbox", c.secret, sandbox);
        return {
          organizationId: token.organizationId,
          sandboxId: token.sandboxId,
          port: 0,
          credentialId: token.id,
          expireTime: token.expireTime,
        };
      }
      case "previewToken":
      case "signedUrlToken": {
        if (query.access !== "preview") throw refuse("preview token");
        const token = await verifyAccessToken(db, "preview", c.secret, sandbox, {
          tokenType: c.kind === "signedUrlToken" ? "signed_url" : "preview",
        });
        return {
          organizationId: token.organizationId,
          sandboxId: token.sandboxId,
          port: token.port,
          credentialId: token.id,
          expireTime: token.expireTime,
        };
      }
      case "sshToken": {
        if (query.access !== "ssh") throw refuse("SSH token");
        const token = await verifyAccessToken(db, "ssh", c.secret, sandbox);
        return {
          organizationId: token.organizationId,
          sandboxId: token.sandboxId,
          port: 0,
          credentialId: token.id,
          expireTime: token.expireTime,
        };
      }
    }
  }

  /**
   * watchCredentials calls `watcher` with every credential change (revoked keys, removed
   * members, deleted organizations) until the returned function is called; the change is
   * confirmed to whoever announced it only once every watcher's promise has settled.
   */
  watchCredentials(watcher: CredentialWatcher): () => void {
    return this.deps.apiKeys.watch(watcher);
  }

  /** recordActivity moves last_activity_time forward (never back, never past now + 1 min). */
  async recordActivity(entries: Array<{ sandboxId: string; time: Date }>): Promise<number> {
    const limit = new Date(Date.now() + 60_000);
    let updated = 0;
    for (const { sandboxId, time } of entries.slice(0, 1000)) {
      const at = time > limit ? new Date() : time;
      updated += await this.deps
        .db("sandboxes")
        .where({ id: sandboxId })
        .whereIn("state", ["STARTED", "STARTING"])
        .where("last_activity_time", "<", at)
        .update({ last_activity_time: at });
    }
    return updated;
  }
}
