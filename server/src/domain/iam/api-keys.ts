/**
 * API keys: issuing, listing and revoking them, and turning a presented secret into a principal
 * (with a short positive cache). Also the runner and proxy service tokens, which are checked
 * the same way (sha256 of a high-entropy secret). Plain TypeScript over knex.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { CoveError, invalidArgument, notFound, permissionDenied } from "@cove/common";
import type { Knex } from "knex";
import { newId } from "../../ids.js";
import type { Principal } from "../../principal.js";
import type { EventBus } from "../../shared/shared-state.js";
import {
  effectiveScopes,
  hasScope,
  isKnownScope,
  OPERATOR_SCOPE,
  type RoleName,
} from "./scopes.js";
import {
  type ApiKeyCaller,
  decodePageToken,
  encodePageToken,
  pageSizeOf,
  parseRole,
  requireRole,
  roleOf,
  userCaller,
  validateName,
} from "./users.js";

/** Every API key secret starts with this. */
export const API_KEY_PREFIX = "cove_sk_";

/** How many leading characters of a secret are stored and shown (e.g. "cove_sk_3fQ9"). */
export const KEY_PREFIX_LENGTH = 12;

const SECRET_PATTERN = /^cove_sk_[A-Za-z0-9_-]{43}$/;

/** generateSecret returns a new API key secret: "cove_sk_" and 32 random bytes as base64url. */
export function generateSecret(): string {
  return `${API_KEY_PREFIX}${randomBytes(32).toString("base64url")}`;
}

/**
 * hashSecret is how every Cove credential secret is stored: sha256, hex. The secrets are 256
 * random bits, so a fast hash is enough; a slow password hash (bcrypt, scrypt) only protects
 * low-entropy secrets that can be guessed, and would cost milliseconds on every request.
 * Runner tokens (runners.token_hash) and the configured proxy and registration tokens use the
 * same function.
 */
export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("hex");
}

/** looksLikeApiKey says whether a string has the shape of an API key secret. */
export function looksLikeApiKey(secret: string): boolean {
  return SECRET_PATTERN.test(secret);
}

/** An API key's state (cove.iam.v1.ApiKeyState name without prefix). */
export type ApiKeyStateName = "ACTIVE" | "EXPIRED" | "REVOKED";

/** An API key as stored (never its secret). */
export interface ApiKeyRecord {
  /** Key id ("key_…"). */
  id: string;
  /** The organization it acts in. */
  organizationId: string;
  /** The user it acts as; null when that user was deleted. */
  userId: string | null;
  /** Display name. */
  name: string;
  /** The secret's first KEY_PREFIX_LENGTH characters. */
  keyPrefix: string;
  /** Scopes as granted (before the role bound). */
  scopes: string[];
  /** When it was created. */
  createTime: Date;
  /** When it stops working; null means never. */
  expireTime: Date | null;
  /** When it was revoked; null unless revoked. */
  revokeTime: Date | null;
  /** When it last authenticated a request (at most once a minute); null if never. */
  lastUsedTime: Date | null;
}

interface ApiKeyRow {
  id: string;
  organization_id: string;
  user_id: string | null;
  name: string;
  key_prefix: string;
  scopes: string[];
  create_time: Date;
  expire_time: Date | null;
  revoke_time: Date | null;
  last_used_time: Date | null;
}

function toRecord(row: ApiKeyRow): ApiKeyRecord {
  return {
    id: row.id,
    organizationId: row.organization_id,
    userId: row.user_id,
    name: row.name,
    keyPrefix: row.key_prefix,
    scopes: row.scopes,
    createTime: row.create_time,
    expireTime: row.expire_time,
    revokeTime: row.revoke_time,
    lastUsedTime: row.last_used_time,
  };
}

/** stateOf says whether a key works, at `now`. */
export function stateOf(key: ApiKeyRecord, now = new Date()): ApiKeyStateName {
  if (key.revokeTime) return "REVOKED";
  if (key.expireTime && key.expireTime.getTime() <= now.getTime()) return "EXPIRED";
  return "ACTIVE";
}

/** unauthenticated builds an UNAUTHENTICATED error. */
export function unauthenticated(
  reason:
    | "CREDENTIALS_MISSING"
    | "API_KEY_INVALID"
    | "API_KEY_EXPIRED"
    | "API_KEY_REVOKED"
    | "RUNNER_TOKEN_INVALID"
    | "PROXY_TOKEN_INVALID",
  message: string,
  metadata: Record<string, string> = {},
): CoveError {
  return new CoveError("unauthenticated", reason, message, metadata);
}

/** Which cached credentials an IAM change makes stale (all given fields must match). */
export interface CredentialChange {
  /** Keys of this organization. */
  organizationId?: string;
  /** Keys acting as this user. */
  userId?: string;
  /** This key. */
  apiKeyId?: string;
}

/** What CreateApiKey asks for. */
export interface CreateApiKeyInput {
  /** Display name, 1–100 characters. */
  name: string;
  /** Requested scopes. */
  scopes: readonly string[];
  /** Expiry; undefined means never. */
  expireTime: Date | undefined;
  /** The organization the key acts in; "" or undefined means the caller's own. */
  organizationId?: string;
}

/** What issueApiKey writes, unchecked: for CreateApiKey after its checks and for bootstrap. */
export interface IssueApiKeyInput {
  /** The organization. */
  organizationId: string;
  /** The user the key acts as. */
  userId: string;
  /** Display name. */
  name: string;
  /** Scopes, already validated. */
  scopes: readonly string[];
  /** Expiry; undefined or null means never. */
  expireTime?: Date | null;
}

/**
 * issueApiKey inserts a key without any permission check and returns it with its secret,
 * which is not stored anywhere (only its hash is).
 */
export async function issueApiKey(
  db: Knex | Knex.Transaction,
  input: IssueApiKeyInput,
): Promise<{ key: ApiKeyRecord; secret: string }> {
  const secret = generateSecret();
  const [row] = await db("api_keys")
    .insert({
      id: newId("key"),
      organization_id: input.organizationId,
      user_id: input.userId,
      name: input.name,
      key_prefix: secret.slice(0, KEY_PREFIX_LENGTH),
      secret_hash: hashSecret(secret),
      scopes: [...new Set(input.scopes)],
      expire_time: input.expireTime ?? null,
    })
    .returning("*");
  return { key: toRecord(row as ApiKeyRow), secret };
}

/**
 * revokeApiKeysOf revokes, inside the caller's transaction, the working keys of an
 * organization (or of one user in it). Call ApiKeyManager.announce after the commit.
 */
export async function revokeApiKeysOf(
  trx: Knex | Knex.Transaction,
  organizationId: string,
  userId?: string,
): Promise<number> {
  const q = trx("api_keys")
    .where({ organization_id: organizationId })
    .whereNull("revoke_time")
    .update({ revoke_time: trx.fn.now() });
  if (userId) q.andWhere({ user_id: userId });
  return q;
}

/** countActiveApiKeys counts an organization's keys that are neither revoked nor expired. */
export async function countActiveApiKeys(
  db: Knex | Knex.Transaction,
  organizationId: string,
  now = new Date(),
): Promise<number> {
  const row = await db("api_keys")
    .where({ organization_id: organizationId })
    .whereNull("revoke_time")
    .andWhere((q) => q.whereNull("expire_time").orWhere("expire_time", ">", now))
    .count<{ count: string }[]>({ count: "*" })
    .first();
  return Number(row?.count ?? 0);
}

function organizationNotFound(organizationId: string): CoveError {
  return notFound("ORGANIZATION_NOT_FOUND", `organization ${organizationId} not found`, {
    organizationId,
  });
}

/**
 * firstKeyFromOutside allows a key of another organization to mint a key in `organizationId`
 * only as its first key ever, for its OWNER (PERMISSION_DENIED otherwise); `lock` takes the
 * organization's row lock for the rest of the transaction.
 */
async function firstKeyFromOutside(
  db: Knex | Knex.Transaction,
  organizationId: string,
  role: RoleName | undefined,
  lock = false,
): Promise<void> {
  const q = db("organizations").where({ id: organizationId }).whereNull("delete_time").first("id");
  if (lock) q.forUpdate();
  if (!(await q)) throw organizationNotFound(organizationId);
  const issued = await db("api_keys").where({ organization_id: organizationId }).first("id");
  if (role === "OWNER" && !issued) return;
  throw permissionDenied(
    "PERMISSION_DENIED",
    `an API key acts only in its own organization; use a key of ${organizationId} ` +
      "(a key of another organization may mint only the first key of one its user owns)",
    { organizationId },
  );
}

/** What the authenticator remembers about a usable key. */
interface CachedKey {
  key: ApiKeyRecord;
  role: RoleName | undefined;
  fetchedAt: number;
}

/** Options of ApiKeyManager. */
export interface ApiKeyManagerOptions {
  /** The database. */
  db: Knex;
  /** Where credential changes are announced to every replica; optional on a single node. */
  events?: EventBus;
  /** How long a successful lookup is reused, ms. Default 5000. */
  cacheTtlMs?: number;
  /** Most cached keys. Default 10 000. */
  cacheMax?: number;
  /** Least time between two last_used_time writes of one key, ms. Default 60 000. */
  lastUseIntervalMs?: number;
  /** Reports background failures (last_used_time writes, replicas slow to apply a change). */
  onBackgroundError?: (err: unknown) => void;
  /** How long announce waits for every replica to apply a change, ms. Default 3000. */
  applyTimeoutMs?: number;
}

/** The channel credential changes travel on, so every replica drops its cached lookups. */
export const CREDENTIALS_CHANNEL = "cove.iam.credentials";

/** The channel replicas confirm on that they applied a change (by its fence id). */
export const CREDENTIALS_APPLIED_CHANNEL = "cove.iam.credentials.applied";

/**
 * Something on this replica that must learn of credential changes before they are confirmed
 * (the EdgeService's WatchRoutes streams); it resolves once it has passed the change on.
 */
export type CredentialWatcher = (change: CredentialChange) => Promise<void>;

/** A change announced here, waiting for the replicas that received it to confirm it. */
interface Fence {
  confirmed: number;
  receivers: number;
  done: () => void;
}

/**
 * ApiKeyManager implements ApiKeyService's rules and authenticates API key secrets.
 *
 * Cache: a successful lookup (key, its user's role) is reused for cacheTtlMs (5 s) so that a
 * busy SDK does not cost one query per call. Revocation, removal of a member and role changes
 * drop the affected entries at once on this replica and announce it on CREDENTIALS_CHANNEL
 * for the others, which confirm once they and their watchers (the proxy's route streams)
 * have applied it; should that message be lost, the TTL still bounds how long a revoked key
 * keeps working to 5 s. Expiry is checked on every call against the cached expire_time.
 * Unknown secrets are never cached (no memory for an attacker to fill).
 */
export class ApiKeyManager {
  private readonly cache = new Map<string, CachedKey>();
  private readonly lastUseWrites = new Map<string, number>();
  private readonly ttlMs: number;
  private readonly cacheMax: number;
  private readonly lastUseIntervalMs: number;
  private readonly applyTimeoutMs: number;
  private readonly watchers = new Set<CredentialWatcher>();
  private readonly fences = new Map<string, Fence>();
  private unsubscribe: (() => Promise<void>) | undefined;

  constructor(private readonly options: ApiKeyManagerOptions) {
    this.ttlMs = options.cacheTtlMs ?? 5_000;
    this.cacheMax = options.cacheMax ?? 10_000;
    this.lastUseIntervalMs = options.lastUseIntervalMs ?? 60_000;
    this.applyTimeoutMs = options.applyTimeoutMs ?? 3_000;
  }

  /**
   * start listens for credential changes announced by any replica (this one included): each is
   * applied to the cache, passed to this replica's watchers, and then confirmed.
   */
  async start(): Promise<void> {
    const events = this.options.events;
    if (!events || this.unsubscribe) return;
    const offApplied = await events.subscribe(CREDENTIALS_APPLIED_CHANNEL, (event) => {
      const fence = (event as { fence?: unknown } | null)?.fence;
      if (typeof fence === "string") this.confirm(fence);
    });
    const offChanges = await events.subscribe(CREDENTIALS_CHANNEL, (event) => {
      if (typeof event !== "object" || event === null) return;
      const { fence, ...change } = event as CredentialChange & { fence?: unknown };
      this.invalidate(change);
      void this.tellWatchers(change).then(async () => {
        if (typeof fence !== "string") return;
        await events
          .publish(CREDENTIALS_APPLIED_CHANNEL, { fence })
          .catch((err: unknown) => this.options.onBackgroundError?.(err));
      });
    });
    this.unsubscribe = async () => {
      await offChanges();
      await offApplied();
    };
  }

  /**
   * watch registers a watcher of credential changes on this replica until the returned
   * function is called; announce (on any replica) waits for it, up to applyTimeoutMs.
   */
  watch(watcher: CredentialWatcher): () => void {
    this.watchers.add(watcher);
    return () => this.watchers.delete(watcher);
  }

  /** close stops listening. */
  async close(): Promise<void> {
    const unsubscribe = this.unsubscribe;
    this.unsubscribe = undefined;
    await unsubscribe?.();
  }

  /** invalidate drops this replica's cached lookups that match the change. */
  invalidate(change: CredentialChange): void {
    for (const [hash, entry] of this.cache) {
      if (change.apiKeyId && entry.key.id !== change.apiKeyId) continue;
      if (change.organizationId && entry.key.organizationId !== change.organizationId) continue;
      if (change.userId && entry.key.userId !== change.userId) continue;
      this.cache.delete(hash);
    }
  }

  /**
   * announce invalidates here at once, tells every replica, and returns once each replica that
   * received the change has applied it and passed it to its watchers (so a proxy watching
   * routes on any replica has been told before the caller is answered), or after
   * applyTimeoutMs: a replica that is slow or gone must not hold a revocation up for longer.
   */
  async announce(change: CredentialChange): Promise<void> {
    this.invalidate(change);
    const events = this.options.events;
    if (!events || !this.unsubscribe) {
      // Not listening (a single node without a bus, or not started): tell the watchers here.
      await this.tellWatchers(change);
      if (events) await events.publish(CREDENTIALS_CHANNEL, change);
      return;
    }
    const id = randomBytes(12).toString("base64url");
    let timer: NodeJS.Timeout | undefined;
    const confirmed = new Promise<boolean>((resolve) => {
      this.fences.set(id, {
        confirmed: 0,
        receivers: Number.POSITIVE_INFINITY,
        done: () => resolve(true),
      });
      timer = setTimeout(() => resolve(false), this.applyTimeoutMs);
    });
    try {
      const receivers = await events.publish(CREDENTIALS_CHANNEL, { ...change, fence: id });
      const fence = this.fences.get(id);
      if (fence) {
        fence.receivers = receivers;
        if (fence.confirmed >= receivers) fence.done();
      }
      if (!(await confirmed)) {
        this.options.onBackgroundError?.(
          new Error(
            `a credential change was not confirmed by every replica within ${this.applyTimeoutMs} ms`,
          ),
        );
      }
    } finally {
      clearTimeout(timer);
      this.fences.delete(id);
    }
  }

  private confirm(id: string): void {
    const fence = this.fences.get(id);
    if (!fence) return;
    fence.confirmed++;
    if (fence.confirmed >= fence.receivers) fence.done();
  }

  /** tellWatchers passes a change to this replica's watchers, waiting up to applyTimeoutMs. */
  private async tellWatchers(change: CredentialChange): Promise<void> {
    if (this.watchers.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.applyTimeoutMs);
    });
    const told = Promise.all(
      [...this.watchers].map((watcher) =>
        watcher(change).catch((err: unknown) => this.options.onBackgroundError?.(err)),
      ),
    );
    try {
      await Promise.race([told, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * authenticate turns a presented secret into the caller: UNAUTHENTICATED with reason
   * API_KEY_INVALID (malformed or unknown), API_KEY_REVOKED or API_KEY_EXPIRED otherwise.
   * The principal's scopes are the key's scopes bounded by its user's current role.
   */
  async authenticate(secret: string): Promise<ApiKeyCaller> {
    if (!looksLikeApiKey(secret)) {
      throw unauthenticated("API_KEY_INVALID", "the API key is malformed or unknown");
    }
    const hash = hashSecret(secret);
    const now = Date.now();
    let entry = this.cache.get(hash);
    if (entry && entry.fetchedAt + this.ttlMs <= now) {
      this.cache.delete(hash);
      entry = undefined;
    }
    if (!entry) {
      const fetched = await this.lookup(hash);
      if (!fetched) throw unauthenticated("API_KEY_INVALID", "the API key is malformed or unknown");
      entry = { ...fetched, fetchedAt: now };
      if (stateOf(entry.key, new Date(now)) === "ACTIVE") this.remember(hash, entry);
    }
    const { key } = entry;
    const state = stateOf(key, new Date(now));
    if (state === "REVOKED") {
      throw unauthenticated("API_KEY_REVOKED", "the API key was revoked", {
        keyPrefix: key.keyPrefix,
        revokeTime: (key.revokeTime as Date).toISOString(),
      });
    }
    if (state === "EXPIRED") {
      this.cache.delete(hash);
      throw unauthenticated("API_KEY_EXPIRED", "the API key has expired", {
        keyPrefix: key.keyPrefix,
        expireTime: (key.expireTime as Date).toISOString(),
      });
    }
    this.touch(key.id, now);
    return {
      kind: "apiKey",
      organizationId: key.organizationId,
      apiKeyId: key.id,
      userId: key.userId ?? undefined,
      scopes: effectiveScopes(key.scopes, entry.role),
      expireTime: key.expireTime ?? undefined,
    };
  }

  private async lookup(hash: string): Promise<Omit<CachedKey, "fetchedAt"> | undefined> {
    const row = await this.options
      .db("api_keys as k")
      .join("organizations as o", "o.id", "k.organization_id")
      .leftJoin("members as m", function () {
        this.on("m.organization_id", "=", "k.organization_id").andOn("m.user_id", "=", "k.user_id");
      })
      .where("k.secret_hash", hash)
      .whereNull("o.delete_time")
      .first("k.*", "m.role as member_role");
    if (!row) return undefined;
    return {
      key: toRecord(row as ApiKeyRow),
      role: row.member_role ? parseRole(row.member_role) : undefined,
    };
  }

  private remember(hash: string, entry: CachedKey): void {
    if (this.cache.size >= this.cacheMax) {
      const oldest = this.cache.keys().next();
      if (!oldest.done) this.cache.delete(oldest.value);
    }
    this.cache.set(hash, entry);
  }

  /** touch records a use, writing last_used_time at most once per interval per key. */
  private touch(apiKeyId: string, now: number): void {
    const last = this.lastUseWrites.get(apiKeyId);
    if (last !== undefined && now - last < this.lastUseIntervalMs) return;
    if (this.lastUseWrites.size >= this.cacheMax) this.lastUseWrites.clear();
    this.lastUseWrites.set(apiKeyId, now);
    const seconds = Math.floor(this.lastUseIntervalMs / 1000);
    // Other replicas write too; the condition keeps it to about one write per interval.
    this.options
      .db("api_keys")
      .where({ id: apiKeyId })
      .andWhere((q) =>
        q
          .whereNull("last_used_time")
          .orWhereRaw("last_used_time < now() - make_interval(secs => ?)", [seconds]),
      )
      .update({ last_used_time: this.options.db.fn.now() })
      .catch((err: unknown) => this.options.onBackgroundError?.(err));
  }

  /**
   * create is ApiKeyService.CreateApiKey: a key acting as the calling user, and its secret.
   * A key mints keys for its own organization, never wider than itself nor than its user's
   * role there. The one way into another organization is that organization's first key: the
   * calling key's user must be its OWNER (as CreateOrganization makes its creator) and no key
   * may ever have been issued in it; the new key is still bounded by the calling key's scopes.
   */
  async create(
    principal: Principal | undefined,
    input: CreateApiKeyInput,
  ): Promise<{ key: ApiKeyRecord; secret: string }> {
    const caller = userCaller(principal);
    // Another tenant's organization is NOT_FOUND before anything about the request is judged.
    const organizationId = input.organizationId || caller.organizationId;
    const foreign = organizationId !== caller.organizationId;
    const role = await roleOf(this.options.db, organizationId, caller.userId);
    if (!role && foreign) throw organizationNotFound(organizationId);
    if (foreign) await firstKeyFromOutside(this.options.db, organizationId, role);
    const name = validateName("name", input.name);
    if (input.scopes.length === 0) throw invalidArgument("scopes", "name at least one scope");
    for (const scope of input.scopes) {
      if (!isKnownScope(scope)) throw invalidArgument("scopes", `unknown scope "${scope}"`);
    }
    if (input.expireTime && input.expireTime.getTime() <= Date.now()) {
      throw invalidArgument("expire_time", "must be in the future");
    }
    if (input.scopes.includes(OPERATOR_SCOPE)) {
      throw permissionDenied(
        "PERMISSION_DENIED",
        'scope "operator" is granted only by the server\'s operator configuration',
        { requiredScope: OPERATOR_SCOPE },
      );
    }
    requireRole(role, ["OWNER", "ADMIN", "MEMBER"], "creating API keys");
    // The new key may not exceed the calling key, nor the caller's role as it is now.
    const bound = effectiveScopes(caller.scopes, role);
    for (const scope of input.scopes) {
      const ok = scope === "*" ? bound.includes("*") : hasScope(bound, scope);
      if (!ok) {
        throw permissionDenied(
          "PERMISSION_DENIED",
          `scope "${scope}" is more than this API key or your role allows`,
          { requiredScope: scope },
        );
      }
    }
    const issue = (db: Knex | Knex.Transaction) =>
      issueApiKey(db, {
        organizationId,
        userId: caller.userId,
        name,
        scopes: input.scopes,
        expireTime: input.expireTime ?? null,
      });
    if (!foreign) return issue(this.options.db);
    return this.options.db.transaction(async (trx) => {
      // Checked again under the organization's row lock, so only one first key is ever minted.
      await firstKeyFromOutside(trx, organizationId, role, true);
      return issue(trx);
    });
  }

  /** list is ApiKeyService.ListApiKeys: newest first; MEMBER and VIEWER see their own keys. */
  async list(
    principal: Principal | undefined,
    input: { pageSize: number; pageToken: string; states: readonly ApiKeyStateName[] },
  ): Promise<{ keys: ApiKeyRecord[]; nextPageToken: string }> {
    const caller = userCaller(principal);
    const pageSize = pageSizeOf(input.pageSize);
    const states = input.states.length > 0 ? [...new Set(input.states)].sort() : ["ACTIVE"];
    const after = decodePageToken(input.pageToken, 2, states.join(","));
    const role = await roleOf(this.options.db, caller.organizationId, caller.userId);
    requireRole(role, ["OWNER", "ADMIN", "MEMBER", "VIEWER"], "listing API keys");
    const db = this.options.db;
    const now = new Date();
    const q = db("api_keys")
      .select("*", db.raw("create_time::text as create_key"))
      .where({ organization_id: caller.organizationId })
      .andWhere((w) => {
        if (states.includes("ACTIVE")) {
          w.orWhere((a) =>
            a
              .whereNull("revoke_time")
              .andWhere((e) => e.whereNull("expire_time").orWhere("expire_time", ">", now)),
          );
        }
        if (states.includes("EXPIRED")) {
          w.orWhere((a) => a.whereNull("revoke_time").andWhere("expire_time", "<=", now));
        }
        if (states.includes("REVOKED")) w.orWhereNotNull("revoke_time");
      })
      .orderBy([
        { column: "create_time", order: "desc" },
        { column: "id", order: "desc" },
      ])
      .limit(pageSize + 1);
    if (role !== "OWNER" && role !== "ADMIN") q.andWhere({ user_id: caller.userId });
    if (after) q.andWhereRaw("(create_time, id) < (?::timestamptz, ?)", after);
    const rows = (await q) as (ApiKeyRow & { create_key: string })[];
    const page = rows.slice(0, pageSize);
    const last = page[page.length - 1];
    return {
      keys: page.map(toRecord),
      nextPageToken:
        rows.length > pageSize && last
          ? encodePageToken([last.create_key, last.id], states.join(","))
          : "",
    };
  }

  /** get is ApiKeyService.GetApiKey. */
  async get(principal: Principal | undefined, apiKeyId: string): Promise<ApiKeyRecord> {
    const caller = userCaller(principal);
    const { key } = await this.visibleKey(caller, apiKeyId, "reading");
    return key;
  }

  /** revoke is ApiKeyService.RevokeApiKey: idempotent, effective at once on this replica. */
  async revoke(principal: Principal | undefined, apiKeyId: string): Promise<ApiKeyRecord> {
    const caller = userCaller(principal);
    const { key } = await this.visibleKey(caller, apiKeyId, "revoking");
    const [row] = await this.options
      .db("api_keys")
      .where({ id: key.id, organization_id: caller.organizationId })
      .update({ revoke_time: this.options.db.raw("coalesce(revoke_time, now())") })
      .returning("*");
    await this.announce({ apiKeyId: key.id });
    return toRecord(row as ApiKeyRow);
  }

  /**
   * visibleKey finds a key of the caller's organization (NOT_FOUND otherwise, whoever owns it)
   * and checks the caller may see it: OWNER and ADMIN all keys, others their own; a key may
   * always act on itself.
   */
  private async visibleKey(
    caller: ApiKeyCaller & { userId: string },
    apiKeyId: string,
    what: "reading" | "revoking",
  ): Promise<{ key: ApiKeyRecord }> {
    if (!apiKeyId) throw invalidArgument("api_key_id", "is required");
    const row = await this.options
      .db("api_keys")
      .where({ id: apiKeyId, organization_id: caller.organizationId })
      .first();
    if (!row) {
      throw notFound("API_KEY_NOT_FOUND", `API key ${apiKeyId} not found`, { apiKeyId });
    }
    const key = toRecord(row as ApiKeyRow);
    if (key.id === caller.apiKeyId) return { key };
    const role = await roleOf(this.options.db, caller.organizationId, caller.userId);
    if (role === "OWNER" || role === "ADMIN") return { key };
    if (what === "revoking") requireRole(role, ["OWNER", "ADMIN", "MEMBER"], "revoking API keys");
    else requireRole(role, ["OWNER", "ADMIN", "MEMBER", "VIEWER"], "reading API keys");
    if (key.userId !== caller.userId) {
      throw permissionDenied(
        "PERMISSION_DENIED",
        `${what} another member's API key needs role OWNER or ADMIN`,
        { requiredRole: "OWNER,ADMIN" },
      );
    }
    return { key };
  }
}

/** Options of ServiceCredentials: sha256 hex (hashSecret) of the configured tokens. */
export interface ServiceCredentialOptions {
  /** The database (runners.token_hash). */
  db: Knex;
  /** Hash of the shared runner registration token, if the server accepts one. */
  runnerRegistrationTokenHash?: string;
  /** Hash of the proxy's service token, if a proxy is configured. */
  proxyTokenHash?: string;
}

function sameHash(a: string, b: string | undefined): boolean {
  if (!b) return false;
  const left = Buffer.from(a, "utf8");
  const right = Buffer.from(b.toLowerCase(), "utf8");
  return left.length === right.length && timingSafeEqual(left, right);
}

/**
 * ServiceCredentials checks the tokens of Cove's own components: runners (a per-runner token
 * from RunnerAdminService.CreateRunner, stored as runners.token_hash, or the shared
 * registration token) and the proxy (one configured service token). Only hashes are kept.
 */
export class ServiceCredentials {
  constructor(private readonly options: ServiceCredentialOptions) {}

  /**
   * runner returns the runner a token belongs to. The shared registration token gives
   * runnerId "": the runner names itself in its hello and the hub fills the id in.
   * UNAUTHENTICATED (reason RUNNER_TOKEN_INVALID) otherwise.
   */
  async runner(token: string): Promise<{ runnerId: string }> {
    const invalid = () =>
      unauthenticated("RUNNER_TOKEN_INVALID", "the runner token is missing, unknown or revoked");
    if (!token) throw invalid();
    const hash = hashSecret(token);
    if (sameHash(hash, this.options.runnerRegistrationTokenHash)) return { runnerId: "" };
    const row = await this.options.db("runners").where({ token_hash: hash }).first("id");
    if (!row) throw invalid();
    return { runnerId: row.id as string };
  }

  /** proxy accepts only the configured proxy token: UNAUTHENTICATED (PROXY_TOKEN_INVALID) otherwise. */
  proxy(token: string): void {
    if (!token || !sameHash(hashSecret(token), this.options.proxyTokenHash)) {
      throw unauthenticated("PROXY_TOKEN_INVALID", "the proxy service token is missing or unknown");
    }
  }
}
