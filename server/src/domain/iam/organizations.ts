/**
 * Organizations: the tenants. Creating, reading, renaming and deleting them, their members and
 * roles, their quota and what they use. Plain TypeScript over knex; errors are CoveErrors.
 *
 * Tenancy: an API key is bound to one organization and sees only that one; any other id is
 * NOT_FOUND (ORGANIZATION_NOT_FOUND), exactly like an id that does not exist. Only keys with
 * scope "operator" may address other organizations, and only to read them, read their usage
 * and change their quota.
 */
import {
  alreadyExists,
  failedPrecondition,
  invalidArgument,
  notFound,
  permissionDenied,
} from "@cove/common";
import type { Knex } from "knex";
import { newId } from "../../ids.js";
import type { Principal } from "../../principal.js";
import { occupancyOf } from "../sandbox/occupancy.js";
import {
  type ApiKeyManager,
  type ApiKeyRecord,
  countActiveApiKeys,
  issueApiKey,
  revokeApiKeysOf,
} from "./api-keys.js";
import {
  effectiveScopes,
  hasScope,
  isKnownScope,
  OPERATOR_SCOPE,
  ROLE_NAMES,
  type RoleName,
  roleAllows,
} from "./scopes.js";
import {
  type ApiKeyCaller,
  apiKeyCaller,
  decodePageToken,
  encodePageToken,
  findUserByEmail,
  normalizeEmail,
  pageSizeOf,
  parseRole,
  requireRole,
  roleOf,
  userCaller,
  validateName,
} from "./users.js";

/** An organization's quota; zero in a field means no limit (cove.iam.v1.Quota). */
export interface QuotaValues {
  /** Sandboxes that are not DESTROYED. */
  maxSandboxes: number;
  /** Sandboxes STARTED or starting (not stored yet: always 0). */
  maxStartedSandboxes: number;
  /** CPU of running sandboxes, millicores. */
  totalCpuMillicores: number;
  /** Memory of running sandboxes, MiB. */
  totalMemoryMib: number;
  /** Disk of sandboxes on runners plus volumes, MiB. */
  totalDiskMib: number;
  /** CPU of one sandbox, millicores. */
  maxSandboxCpuMillicores: number;
  /** Memory of one sandbox, MiB. */
  maxSandboxMemoryMib: number;
  /** Disk of one sandbox, MiB. */
  maxSandboxDiskMib: number;
  /** Snapshots (not stored yet: always 0). */
  maxSnapshots: number;
  /** Volumes (not stored yet: always 0). */
  maxVolumes: number;
  /** Working API keys (not stored yet: always 0). */
  maxApiKeys: number;
  /** Requests per minute per API key (not stored yet: always 0). */
  requestsPerMinute: number;
}

/**
 * The quota fields the organizations table has columns for, and the columns. The others
 * (maxStartedSandboxes, maxSnapshots, maxVolumes, maxApiKeys, requestsPerMinute) need a
 * migration; until then they read as 0 (no limit) and UpdateQuota refuses to set them.
 */
const QUOTA_COLUMNS = {
  maxSandboxes: "max_sandboxes",
  totalCpuMillicores: "max_cpu_millicores",
  totalMemoryMib: "max_memory_mib",
  totalDiskMib: "max_disk_mib",
  maxSandboxCpuMillicores: "max_sandbox_cpu_millicores",
  maxSandboxMemoryMib: "max_sandbox_memory_mib",
  maxSandboxDiskMib: "max_sandbox_disk_mib",
} as const satisfies Partial<Record<keyof QuotaValues, string>>;

const UNSTORED_QUOTA_FIELDS: readonly (keyof QuotaValues)[] = [
  "maxStartedSandboxes",
  "maxSnapshots",
  "maxVolumes",
  "maxApiKeys",
  "requestsPerMinute",
];

function snakeCase(field: string): string {
  return field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** What an organization uses now (cove.iam.v1.Usage). */
export interface UsageValues {
  /** Sandboxes that count against max_sandboxes (see sandbox/occupancy.ts). */
  sandboxes: number;
  /** Sandboxes holding compute (started, or on the way). */
  startedSandboxes: number;
  /** CPU of sandboxes holding compute, millicores. */
  cpuMillicores: number;
  /** Memory of sandboxes holding compute, MiB. */
  memoryMib: number;
  /** Disk of sandboxes holding disk, MiB (volumes: not stored yet). */
  diskMib: number;
  /** Snapshots (not stored yet: 0). */
  snapshots: number;
  /** Volumes not DELETED (not stored yet: 0). */
  volumes: number;
  /** API keys neither revoked nor expired. */
  apiKeys: number;
  /** When this was computed. */
  observeTime: Date;
}

/** An organization as stored. */
export interface OrganizationRecord {
  /** Organization id ("org_…"). */
  id: string;
  /** Display name. */
  name: string;
  /** Its quota. */
  quota: QuotaValues;
  /** When it was created. */
  createTime: Date;
  /** When its record last changed. */
  updateTime: Date;
}

/** A membership, with the user's email and name. */
export interface MemberRecord {
  /** The organization. */
  organizationId: string;
  /** The user. */
  userId: string;
  /** The user's email. */
  email: string;
  /** The user's display name. */
  displayName: string;
  /** The role. */
  role: RoleName;
  /** When the user joined. */
  createTime: Date;
}

type OrgRow = Record<string, unknown> & {
  id: string;
  name: string;
  create_time: Date;
  update_time: Date;
};

function toOrganization(row: OrgRow): OrganizationRecord {
  const quota: QuotaValues = {
    maxSandboxes: 0,
    maxStartedSandboxes: 0,
    totalCpuMillicores: 0,
    totalMemoryMib: 0,
    totalDiskMib: 0,
    maxSandboxCpuMillicores: 0,
    maxSandboxMemoryMib: 0,
    maxSandboxDiskMib: 0,
    maxSnapshots: 0,
    maxVolumes: 0,
    maxApiKeys: 0,
    requestsPerMinute: 0,
  };
  for (const [field, column] of Object.entries(QUOTA_COLUMNS)) {
    quota[field as keyof QuotaValues] = Number(row[column] ?? 0);
  }
  return {
    id: row.id,
    name: row.name,
    quota,
    createTime: row.create_time,
    updateTime: row.update_time,
  };
}

function toMember(row: {
  organization_id: string;
  user_id: string;
  email: string;
  name: string;
  role: string;
  create_time: Date;
}): MemberRecord {
  return {
    organizationId: row.organization_id,
    userId: row.user_id,
    email: row.email,
    displayName: row.name,
    role: parseRole(row.role),
    createTime: row.create_time,
  };
}

/**
 * computeUsage measures an organization against its quota, from the sandboxes and api_keys
 * tables (sandbox/occupancy.ts says which states count; quota admission reads the same).
 */
export async function computeUsage(
  db: Knex | Knex.Transaction,
  organizationId: string,
): Promise<UsageValues> {
  const observeTime = new Date();
  const o = (await occupancyOf(db, "organization_id", [organizationId])).get(organizationId);
  return {
    sandboxes: o?.sandboxes ?? 0,
    startedSandboxes: o?.started ?? 0,
    cpuMillicores: o?.cpuMillicores ?? 0,
    memoryMib: o?.memoryMib ?? 0,
    diskMib: o?.diskMib ?? 0,
    snapshots: 0,
    volumes: 0,
    apiKeys: await countActiveApiKeys(db, organizationId, observeTime),
    observeTime,
  };
}

function organizationNotFound(organizationId: string) {
  return notFound("ORGANIZATION_NOT_FOUND", `organization ${organizationId} not found`, {
    organizationId,
  });
}

function memberNotFound(organizationId: string, userId: string) {
  return notFound("MEMBER_NOT_FOUND", `user ${userId} is not a member`, {
    organizationId,
    userId,
  });
}

function isOperator(caller: ApiKeyCaller): boolean {
  return hasScope(caller.scopes, OPERATOR_SCOPE);
}

function requiredRoleName(role: RoleName): RoleName {
  if (!(ROLE_NAMES as readonly string[]).includes(role)) {
    throw invalidArgument("role", "must be OWNER, ADMIN, MEMBER or VIEWER");
  }
  return role;
}

/** C0 control characters and DEL, refused in emails and display names. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;

/** One "@" with something on both sides and a dot in the domain; no whitespace. */
const EMAIL_SHAPE = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

/** Longest email address CreateMember accepts (RFC 5321's path limit). */
export const MAX_EMAIL_LENGTH = 254;

/**
 * validateEmail checks an address for CreateMember: 1–254 characters, exactly one "@" with
 * something on both sides, a dot in the domain, no spaces or control characters. It is not
 * a full RFC 5322 parser; it keeps obvious mistakes out of the users table.
 */
function validateEmail(email: string): string {
  const normalized = normalizeEmail(email);
  if (normalized === "") throw invalidArgument("email", "is required");
  if (normalized.length > MAX_EMAIL_LENGTH) {
    throw invalidArgument("email", `must be at most ${MAX_EMAIL_LENGTH} characters`);
  }
  if (!EMAIL_SHAPE.test(normalized) || CONTROL_CHARACTERS.test(normalized)) {
    throw invalidArgument("email", "must be an address like name@example.com");
  }
  return normalized;
}

/** What CreateMember asks for. */
export interface CreateMemberInput {
  /** The member's email. */
  email: string;
  /** Name of a user created by the call; "" for none. */
  displayName: string;
  /** The new member's role. */
  role: RoleName;
  /** Scopes of the member's first API key; empty for no key. */
  apiKeyScopes: readonly string[];
  /** That key's name; "" means the email (cut to 100 characters). */
  apiKeyName: string;
}

/** What CreateMember did. */
export interface CreateMemberResult {
  /** The new membership. */
  member: MemberRecord;
  /** Whether the user was created by this call. */
  userCreated: boolean;
  /** The member's first key and its secret, when asked for. */
  apiKey?: { key: ApiKeyRecord; secret: string };
}

/** Options of OrganizationManager. */
export interface OrganizationManagerOptions {
  /** The database. */
  db: Knex;
  /** For revoking a removed member's keys and dropping cached credentials. */
  apiKeys: ApiKeyManager;
}

/** OrganizationManager implements OrganizationService's rules. */
export class OrganizationManager {
  private readonly db: Knex;

  constructor(private readonly options: OrganizationManagerOptions) {
    this.db = options.db;
  }

  /**
   * resolve finds the organization a call addresses and the caller's role in it. Empty ids
   * mean the key's organization where `emptyMeansOwn`; otherwise they are INVALID_ARGUMENT.
   * Operators may address any organization where `operatorAnywhere`.
   */
  private async resolve(
    db: Knex | Knex.Transaction,
    caller: ApiKeyCaller,
    organizationId: string,
    how: { emptyMeansOwn?: boolean; operatorAnywhere?: boolean; forUpdate?: boolean } = {},
  ): Promise<{ organization: OrganizationRecord; role: RoleName | undefined }> {
    let id = organizationId;
    if (id === "") {
      if (!how.emptyMeansOwn) throw invalidArgument("organization_id", "is required");
      id = caller.organizationId;
    }
    const crossTenant = id !== caller.organizationId;
    if (crossTenant && !(how.operatorAnywhere && isOperator(caller))) {
      throw organizationNotFound(id);
    }
    const q = db("organizations").where({ id }).whereNull("delete_time").first();
    if (how.forUpdate) q.forUpdate();
    const row = await q;
    if (!row) throw organizationNotFound(id);
    const role = await roleOf(db, id, caller.userId);
    if (!role && !(how.operatorAnywhere && isOperator(caller))) throw organizationNotFound(id);
    return { organization: toOrganization(row as OrgRow), role };
  }

  /** create is CreateOrganization: the server's default quota, the calling user its OWNER. */
  async create(principal: Principal | undefined, name: string): Promise<OrganizationRecord> {
    const caller = userCaller(principal);
    validateName("name", name);
    return this.db.transaction(async (trx) => {
      const [row] = await trx("organizations")
        .insert({ id: newId("org"), name })
        .returning("*");
      const organization = toOrganization(row as OrgRow);
      await trx("members").insert({
        organization_id: organization.id,
        user_id: caller.userId,
        role: "OWNER",
      });
      return organization;
    });
  }

  /** get is GetOrganization, with the caller's role (undefined for an operator from outside). */
  async get(
    principal: Principal | undefined,
    organizationId: string,
  ): Promise<{ organization: OrganizationRecord; role: RoleName | undefined }> {
    const caller = apiKeyCaller(principal);
    return this.resolve(this.db, caller, organizationId, {
      emptyMeansOwn: true,
      operatorAnywhere: true,
    });
  }

  /**
   * list is ListOrganizations, by name: the key's own organization (a key is bound to one);
   * operators see every organization.
   */
  async list(
    principal: Principal | undefined,
    input: { pageSize: number; pageToken: string },
  ): Promise<{ organizations: OrganizationRecord[]; nextPageToken: string }> {
    const caller = apiKeyCaller(principal);
    const pageSize = pageSizeOf(input.pageSize);
    const after = decodePageToken(input.pageToken, 2);
    const q = this.db("organizations")
      .whereNull("delete_time")
      .orderBy([
        { column: "name", order: "asc" },
        { column: "id", order: "asc" },
      ])
      .limit(pageSize + 1);
    if (!isOperator(caller)) {
      q.where({ id: caller.organizationId }).whereExists((e) =>
        e
          .select(this.db.raw("1"))
          .from("members")
          .whereRaw("members.organization_id = organizations.id")
          .andWhere("members.user_id", caller.userId ?? ""),
      );
    }
    if (after) q.andWhereRaw("(name, id) > (?, ?)", after);
    const rows = (await q) as OrgRow[];
    const page = rows.slice(0, pageSize);
    const last = page[page.length - 1];
    return {
      organizations: page.map(toOrganization),
      nextPageToken: rows.length > pageSize && last ? encodePageToken([last.name, last.id]) : "",
    };
  }

  /** update is UpdateOrganization (ADMIN or OWNER). */
  async update(
    principal: Principal | undefined,
    organizationId: string,
    changes: { name?: string },
  ): Promise<OrganizationRecord> {
    const caller = apiKeyCaller(principal);
    const { organization, role } = await this.resolve(this.db, caller, organizationId);
    requireRole(role, ["OWNER", "ADMIN"], "changing the organization");
    if (changes.name === undefined) return organization;
    validateName("name", changes.name);
    const [row] = await this.db("organizations")
      .where({ id: organization.id })
      .whereNull("delete_time")
      .update({ name: changes.name, update_time: this.db.fn.now() })
      .returning("*");
    if (!row) throw organizationNotFound(organization.id);
    return toOrganization(row as OrgRow);
  }

  /**
   * delete is DeleteOrganization (OWNER): refused while any sandbox is not DESTROYED; marks the
   * organization deleted and revokes its keys. Sandbox creation must check delete_time under
   * the same row lock (FOR SHARE) so that no sandbox slips in between.
   */
  async delete(principal: Principal | undefined, organizationId: string): Promise<void> {
    const caller = apiKeyCaller(principal);
    const id = await this.db.transaction(async (trx) => {
      const { organization, role } = await this.resolve(trx, caller, organizationId, {
        forUpdate: true,
      });
      requireRole(role, ["OWNER"], "deleting the organization");
      const row = await trx("sandboxes")
        .where({ organization_id: organization.id })
        .whereNot({ state: "DESTROYED" })
        .count<{ count: string }[]>({ count: "*" })
        .first();
      const sandboxCount = Number(row?.count ?? 0);
      if (sandboxCount > 0) {
        throw failedPrecondition(
          "ORGANIZATION_NOT_EMPTY",
          `organization ${organization.id} still has ${sandboxCount} sandboxes; delete them first`,
          { organizationId: organization.id, sandboxCount: String(sandboxCount) },
        );
      }
      await trx("organizations")
        .where({ id: organization.id })
        .update({ delete_time: trx.fn.now(), update_time: trx.fn.now() });
      await revokeApiKeysOf(trx, organization.id);
      return organization.id;
    });
    await this.options.apiKeys.announce({ organizationId: id });
  }

  /** listMembers is ListMembers, by email. */
  async listMembers(
    principal: Principal | undefined,
    organizationId: string,
    input: { pageSize: number; pageToken: string },
  ): Promise<{ members: MemberRecord[]; nextPageToken: string }> {
    const caller = apiKeyCaller(principal);
    const pageSize = pageSizeOf(input.pageSize);
    const after = decodePageToken(input.pageToken, 2);
    const { organization } = await this.resolve(this.db, caller, organizationId);
    const q = this.memberQuery(this.db)
      .where("m.organization_id", organization.id)
      .orderBy([
        { column: "u.email", order: "asc" },
        { column: "m.user_id", order: "asc" },
      ])
      .limit(pageSize + 1);
    if (after) q.andWhereRaw("(u.email, m.user_id) > (?, ?)", after);
    const rows = await q;
    const page = rows.slice(0, pageSize).map(toMember);
    const last = page[page.length - 1];
    return {
      members: page,
      nextPageToken:
        rows.length > pageSize && last ? encodePageToken([last.email, last.userId]) : "",
    };
  }

  private memberQuery(db: Knex | Knex.Transaction) {
    return db("members as m")
      .join("users as u", "u.id", "m.user_id")
      .select("m.organization_id", "m.user_id", "m.role", "m.create_time", "u.email", "u.name");
  }

  private async member(
    db: Knex | Knex.Transaction,
    organizationId: string,
    userId: string,
  ): Promise<MemberRecord> {
    const row = await this.memberQuery(db)
      .where({ "m.organization_id": organizationId, "m.user_id": userId })
      .first();
    if (!row) throw memberNotFound(organizationId, userId);
    return toMember(row);
  }

  /** addMember is AddMember: ADMIN or OWNER, OWNER to add an OWNER; the user must exist. */
  async addMember(
    principal: Principal | undefined,
    organizationId: string,
    input: { email: string; role: RoleName },
  ): Promise<MemberRecord> {
    const caller = apiKeyCaller(principal);
    if (input.email.trim() === "") throw invalidArgument("email", "is required");
    const newRole = requiredRoleName(input.role);
    const { organization, role } = await this.resolve(this.db, caller, organizationId);
    requireRole(role, ["OWNER", "ADMIN"], "adding members");
    if (newRole === "OWNER") requireRole(role, ["OWNER"], "adding an owner");
    const user = await findUserByEmail(this.db, input.email);
    if (!user) {
      throw notFound("USER_NOT_FOUND", "no user has this email", { email: input.email });
    }
    const inserted = await this.db("members")
      .insert({ organization_id: organization.id, user_id: user.id, role: newRole })
      .onConflict(["organization_id", "user_id"])
      .ignore()
      .returning("user_id");
    if (inserted.length === 0) {
      throw alreadyExists("MEMBER_ALREADY_EXISTS", `${user.email} is already a member`, {
        organizationId: organization.id,
        userId: user.id,
      });
    }
    return this.member(this.db, organization.id, user.id);
  }

  /**
   * createMember is CreateMember: like addMember, but the user is created when no user has
   * the email, and the member's first API key can be issued with it. Everything happens in
   * one transaction, so an existing membership (ALREADY_EXISTS) leaves nothing behind. The
   * key acts as the new member in this organization only; its scopes are bounded by the
   * calling key and by the new member's role.
   */
  async createMember(
    principal: Principal | undefined,
    organizationId: string,
    input: CreateMemberInput,
  ): Promise<CreateMemberResult> {
    const caller = apiKeyCaller(principal);
    // Another tenant's organization is NOT_FOUND before anything about the request is judged.
    const { organization, role } = await this.resolve(this.db, caller, organizationId);
    requireRole(role, ["OWNER", "ADMIN"], "adding members");
    const email = validateEmail(input.email);
    const newRole = requiredRoleName(input.role);
    if (newRole === "OWNER") requireRole(role, ["OWNER"], "adding an owner");
    const displayName = input.displayName.trim();
    if ([...displayName].length > 100) {
      throw invalidArgument("display_name", "must be at most 100 characters");
    }
    if (CONTROL_CHARACTERS.test(displayName)) {
      throw invalidArgument("display_name", "must not contain control characters");
    }
    const scopes = [...new Set(input.apiKeyScopes)];
    const keyName =
      scopes.length === 0
        ? ""
        : validateName("api_key_name", input.apiKeyName || [...email].slice(0, 100).join(""));
    if (scopes.length > 0) {
      const bound = effectiveScopes(caller.scopes, role);
      for (const scope of scopes) {
        if (!isKnownScope(scope))
          throw invalidArgument("api_key_scopes", `unknown scope "${scope}"`);
        if (scope === OPERATOR_SCOPE) {
          throw permissionDenied(
            "PERMISSION_DENIED",
            'scope "operator" is granted only by the server\'s operator configuration',
            { requiredScope: OPERATOR_SCOPE },
          );
        }
        const callerMay = scope === "*" ? bound.includes("*") : hasScope(bound, scope);
        if (!callerMay) {
          throw permissionDenied(
            "PERMISSION_DENIED",
            `scope "${scope}" is more than this API key or your role allows`,
            { requiredScope: scope },
          );
        }
        if (!roleAllows(newRole, scope)) {
          throw permissionDenied(
            "PERMISSION_DENIED",
            `scope "${scope}" is more than role ${newRole} allows`,
            { requiredScope: scope, role: newRole },
          );
        }
      }
    }
    return this.db.transaction(async (trx) => {
      const created = await trx("users")
        .insert({ id: newId("usr"), email, name: displayName })
        .onConflict("email")
        .ignore()
        .returning("id");
      const user = await findUserByEmail(trx, email);
      if (!user) throw new Error(`user ${email} vanished after insert`);
      const inserted = await trx("members")
        .insert({ organization_id: organization.id, user_id: user.id, role: newRole })
        .onConflict(["organization_id", "user_id"])
        .ignore()
        .returning("user_id");
      if (inserted.length === 0) {
        throw alreadyExists("MEMBER_ALREADY_EXISTS", `${user.email} is already a member`, {
          organizationId: organization.id,
          userId: user.id,
        });
      }
      const apiKey =
        scopes.length === 0
          ? undefined
          : await issueApiKey(trx, {
              organizationId: organization.id,
              userId: user.id,
              name: keyName,
              scopes,
            });
      return {
        member: await this.member(trx, organization.id, user.id),
        userCreated: created.length > 0,
        apiKey,
      };
    });
  }

  /**
   * updateMember is UpdateMember: ADMIN or OWNER, OWNER to make or unmake an OWNER; never
   * leaves the organization without an OWNER (the organization row is locked meanwhile, so
   * two owners demoting each other cannot both succeed).
   */
  async updateMember(
    principal: Principal | undefined,
    organizationId: string,
    userId: string,
    newRoleInput: RoleName,
  ): Promise<MemberRecord> {
    const caller = apiKeyCaller(principal);
    if (!userId) throw invalidArgument("user_id", "is required");
    const newRole = requiredRoleName(newRoleInput);
    const member = await this.db.transaction(async (trx) => {
      const { organization, role } = await this.resolve(trx, caller, organizationId, {
        forUpdate: true,
      });
      requireRole(role, ["OWNER", "ADMIN"], "changing roles");
      const target = await this.member(trx, organization.id, userId);
      if (target.role === "OWNER" || newRole === "OWNER") {
        requireRole(role, ["OWNER"], "making or unmaking an owner");
      }
      if (target.role === "OWNER" && newRole !== "OWNER") {
        await this.keepAnOwner(trx, organization.id, userId);
      }
      await trx("members")
        .where({ organization_id: organization.id, user_id: userId })
        .update({ role: newRole });
      return { ...target, role: newRole };
    });
    await this.options.apiKeys.announce({ organizationId: member.organizationId, userId });
    return member;
  }

  /**
   * removeMember is RemoveMember: ADMIN or OWNER (OWNER to remove an OWNER), or the member
   * themself; never the last OWNER. The keys the member created in the organization are
   * revoked in the same transaction.
   */
  async removeMember(
    principal: Principal | undefined,
    organizationId: string,
    userId: string,
  ): Promise<void> {
    const caller = apiKeyCaller(principal);
    if (!userId) throw invalidArgument("user_id", "is required");
    const orgId = await this.db.transaction(async (trx) => {
      const { organization, role } = await this.resolve(trx, caller, organizationId, {
        forUpdate: true,
      });
      const self = userId === caller.userId;
      if (!self) requireRole(role, ["OWNER", "ADMIN"], "removing members");
      const target = await this.member(trx, organization.id, userId);
      if (target.role === "OWNER") {
        if (!self) requireRole(role, ["OWNER"], "removing an owner");
        await this.keepAnOwner(trx, organization.id, userId);
      }
      await trx("members").where({ organization_id: organization.id, user_id: userId }).del();
      await revokeApiKeysOf(trx, organization.id, userId);
      return organization.id;
    });
    await this.options.apiKeys.announce({ organizationId: orgId, userId });
  }

  private async keepAnOwner(trx: Knex.Transaction, organizationId: string, leaving: string) {
    const row = await trx("members")
      .where({ organization_id: organizationId, role: "OWNER" })
      .whereNot({ user_id: leaving })
      .count<{ count: string }[]>({ count: "*" })
      .first();
    if (Number(row?.count ?? 0) === 0) {
      throw failedPrecondition("LAST_OWNER", "the organization must keep at least one OWNER", {
        organizationId,
        userId: leaving,
      });
    }
  }

  /** usage is GetUsage: the quota and what the organization uses now. */
  async usage(
    principal: Principal | undefined,
    organizationId: string,
  ): Promise<{ quota: QuotaValues; usage: UsageValues }> {
    const caller = apiKeyCaller(principal);
    const { organization } = await this.resolve(this.db, caller, organizationId, {
      emptyMeansOwn: true,
      operatorAnywhere: true,
    });
    return { quota: organization.quota, usage: await computeUsage(this.db, organization.id) };
  }

  /**
   * updateQuota is UpdateQuota (scope "operator"): replaces the whole quota. Fields without a
   * column yet are refused unless zero (see QUOTA_COLUMNS).
   */
  async updateQuota(
    principal: Principal | undefined,
    organizationId: string,
    quota: QuotaValues | undefined,
  ): Promise<OrganizationRecord> {
    const caller = apiKeyCaller(principal);
    if (!isOperator(caller)) {
      throw permissionDenied("PERMISSION_DENIED", "changing quotas needs scope operator", {
        requiredScope: OPERATOR_SCOPE,
      });
    }
    if (!quota) throw invalidArgument("quota", "is required");
    for (const field of UNSTORED_QUOTA_FIELDS) {
      if (quota[field] !== 0) {
        throw invalidArgument(
          `quota.${snakeCase(field)}`,
          "is not supported by this server yet; leave it 0",
        );
      }
    }
    const update: Record<string, number> = {};
    for (const [field, column] of Object.entries(QUOTA_COLUMNS)) {
      const value = quota[field as keyof QuotaValues];
      if (!Number.isInteger(value) || value < 0) {
        throw invalidArgument(`quota.${snakeCase(field)}`, "must be zero (no limit) or positive");
      }
      update[column] = value;
    }
    const { organization } = await this.resolve(this.db, caller, organizationId, {
      operatorAnywhere: true,
    });
    const [row] = await this.db("organizations")
      .where({ id: organization.id })
      .whereNull("delete_time")
      .update({ ...update, update_time: this.db.fn.now() })
      .returning("*");
    if (!row) throw organizationNotFound(organization.id);
    return toOrganization(row as OrgRow);
  }
}
