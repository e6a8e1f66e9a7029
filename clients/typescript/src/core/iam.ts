// IAM through the API server: cove.organizations (organizations, members, usage and quotas),
// cove.apiKeys (create, list, revoke) and cove.audit (the audit log). Ids default to the calling
// key's own organization wherever the contract allows it.
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type Client, Code } from "@connectrpc/connect";
import { errorReasonName } from "@cove/common/error-reason.js";
import { type ApiKey as ApiKeyMessage, ApiKeyState } from "@cove/gen-ts/cove/iam/v1/api_key_pb.js";
import type { ApiKeyService } from "@cove/gen-ts/cove/iam/v1/api_key_service_pb.js";
import {
  ActorType,
  type AuditEvent as AuditEventMessage,
} from "@cove/gen-ts/cove/iam/v1/audit_event_pb.js";
import type { AuditService } from "@cove/gen-ts/cove/iam/v1/audit_service_pb.js";
import {
  type Member as MemberMessage,
  type Organization as OrganizationMessage,
  type Quota as QuotaMessage,
  Role,
  type Usage as UsageMessage,
} from "@cove/gen-ts/cove/iam/v1/organization_pb.js";
import type { OrganizationService } from "@cove/gen-ts/cove/iam/v1/organization_service_pb.js";
import { toDate } from "./convert.js";
import { sdkError } from "./errors.js";
import { type AttemptOptions, type CallPolicy, unary } from "./rpc.js";

/** A member's role: "owner", "admin", "member" or "viewer". */
export type RoleName = "owner" | "admin" | "member" | "viewer";

/** An API key's state: "active", "expired" or "revoked". */
export type ApiKeyStateName = "active" | "expired" | "revoked";

/** What an organization may use; 0 in a field means no limit (cove.iam.v1.Quota). */
export interface Quota {
  /** maxSandboxes is the most sandboxes that are not destroyed. */
  maxSandboxes: number;
  /** maxStartedSandboxes is the most sandboxes started at once. */
  maxStartedSandboxes: number;
  /** totalCpuMillicores is the most CPU of all running sandboxes. */
  totalCpuMillicores: number;
  /** totalMemoryMib is the most memory of all running sandboxes. */
  totalMemoryMib: number;
  /** totalDiskMib is the most disk of all sandboxes. */
  totalDiskMib: number;
  /** maxSandboxCpuMillicores is the most CPU of one sandbox. */
  maxSandboxCpuMillicores: number;
  /** maxSandboxMemoryMib is the most memory of one sandbox. */
  maxSandboxMemoryMib: number;
  /** maxSandboxDiskMib is the most disk of one sandbox. */
  maxSandboxDiskMib: number;
  /** maxSnapshots is the most snapshots. */
  maxSnapshots: number;
  /** maxVolumes is the most volumes. */
  maxVolumes: number;
  /** maxApiKeys is the most working API keys. */
  maxApiKeys: number;
  /** requestsPerMinute is the most API requests per minute per key. */
  requestsPerMinute: number;
}

/** What an organization uses now (cove.iam.v1.Usage). */
export interface Usage {
  /** sandboxes is the number of sandboxes that are not destroyed. */
  sandboxes: number;
  /** startedSandboxes is the number started or starting. */
  startedSandboxes: number;
  /** cpuMillicores is the CPU of running sandboxes. */
  cpuMillicores: number;
  /** memoryMib is the memory of running sandboxes. */
  memoryMib: number;
  /** diskMib is the disk of sandboxes on runners. */
  diskMib: number;
  /** snapshots is the number of snapshots. */
  snapshots: number;
  /** volumes is the number of volumes. */
  volumes: number;
  /** apiKeys is the number of working API keys. */
  apiKeys: number;
  /** observedAt is when this was measured. */
  observedAt: Date | undefined;
}

/** An organization (a tenant). */
export interface Organization {
  /** id is the organization id ("org_…"). */
  id: string;
  /** name is its display name. */
  name: string;
  /** quota is what it may use. */
  quota: Quota;
  /** createdAt is when it was created. */
  createdAt: Date | undefined;
  /** updatedAt is when its record last changed. */
  updatedAt: Date | undefined;
}

/** A user's membership in an organization. */
export interface Member {
  /** organizationId is the organization. */
  organizationId: string;
  /** userId is the user ("usr_…"). */
  userId: string;
  /** email is the user's email. */
  email: string;
  /** displayName is the user's name; may be "". */
  displayName: string;
  /** role is the member's role. */
  role: RoleName;
  /** joinedAt is when the user joined. */
  joinedAt: Date | undefined;
}

/** An API key (never its secret). */
export interface ApiKey {
  /** id is the key id ("key_…"). */
  id: string;
  /** organizationId is the organization the key acts in. */
  organizationId: string;
  /** name is the key's display name. */
  name: string;
  /** prefix is the secret's first characters, e.g. "cove_sk_3fQ9". */
  prefix: string;
  /** scopes are what the key may do. */
  scopes: string[];
  /** state is "active", "expired" or "revoked". */
  state: ApiKeyStateName;
  /** createdByUserId is the user the key acts as. */
  createdByUserId: string;
  /** createdAt, expiresAt, lastUsedAt, revokedAt are its times (undefined when not set). */
  createdAt: Date | undefined;
  /** expiresAt is when the key stops working; undefined means never. */
  expiresAt: Date | undefined;
  /** lastUsedAt is when it last authenticated a call (at most once a minute). */
  lastUsedAt: Date | undefined;
  /** revokedAt is when it was revoked. */
  revokedAt: Date | undefined;
}

/** One audited change. */
export interface AuditEvent {
  /** id is the event id. */
  id: string;
  /** organizationId is the organization the change was made in. */
  organizationId: string;
  /** time is when it happened. */
  time: Date | undefined;
  /** actor is who made it: "user", "system" or "operator", with the user and key. */
  actor: { type: string; userId: string; apiKeyId: string; displayName: string };
  /** method is the RPC, e.g. "cove.sandbox.v1.SandboxService/CreateSandbox". */
  method: string;
  /** resourceType is what was changed: "sandbox", "member", "api_key", … */
  resourceType: string;
  /** resourceId is the id of what was changed. */
  resourceId: string;
  /** code is the call's status code name ("OK", "NOT_FOUND", …). */
  code: string;
  /** errorReason is the ErrorReason name of a failed call, else undefined. */
  errorReason: string | undefined;
  /** requestId is the request's id in the server's logs. */
  requestId: string;
  /** clientIp is the caller's address. */
  clientIp: string;
  /** userAgent is the caller's user agent. */
  userAgent: string;
  /** details are extra facts about the change. */
  details: Record<string, string>;
}

const date = (t: Timestamp | undefined) => toDate(t);

function roleName(role: Role): RoleName {
  return (Role[role] ?? "VIEWER").toLowerCase() as RoleName;
}

/** roleOf maps "admin" (any case) to the enum; anything else is a CoveValidationError. */
function roleOf(name: RoleName | string): Role {
  const value = Role[name.toUpperCase() as keyof typeof Role];
  if (value === undefined || value === Role.UNSPECIFIED) {
    throw sdkError(
      Code.InvalidArgument,
      `unknown role "${name}": use owner, admin, member or viewer`,
    );
  }
  return value;
}

function quotaOf(q: QuotaMessage | undefined): Quota {
  return {
    maxSandboxes: q?.maxSandboxes ?? 0,
    maxStartedSandboxes: q?.maxStartedSandboxes ?? 0,
    totalCpuMillicores: q?.totalCpuMillicores ?? 0,
    totalMemoryMib: q?.totalMemoryMib ?? 0,
    totalDiskMib: q?.totalDiskMib ?? 0,
    maxSandboxCpuMillicores: q?.maxSandboxCpuMillicores ?? 0,
    maxSandboxMemoryMib: q?.maxSandboxMemoryMib ?? 0,
    maxSandboxDiskMib: q?.maxSandboxDiskMib ?? 0,
    maxSnapshots: q?.maxSnapshots ?? 0,
    maxVolumes: q?.maxVolumes ?? 0,
    maxApiKeys: q?.maxApiKeys ?? 0,
    requestsPerMinute: q?.requestsPerMinute ?? 0,
  };
}

function usageOf(u: UsageMessage | undefined): Usage {
  return {
    sandboxes: u?.sandboxes ?? 0,
    startedSandboxes: u?.startedSandboxes ?? 0,
    cpuMillicores: u?.cpuMillicores ?? 0,
    memoryMib: u?.memoryMib ?? 0,
    diskMib: u?.diskMib ?? 0,
    snapshots: u?.snapshots ?? 0,
    volumes: u?.volumes ?? 0,
    apiKeys: u?.apiKeys ?? 0,
    observedAt: date(u?.observeTime),
  };
}

function organizationOf(m: OrganizationMessage | undefined): Organization {
  if (!m) throw sdkError(Code.Internal, "the server returned no organization");
  return {
    id: m.organizationId,
    name: m.name,
    quota: quotaOf(m.quota),
    createdAt: date(m.createTime),
    updatedAt: date(m.updateTime),
  };
}

function memberOf(m: MemberMessage | undefined): Member {
  if (!m) throw sdkError(Code.Internal, "the server returned no member");
  return {
    organizationId: m.organizationId,
    userId: m.userId,
    email: m.email,
    displayName: m.displayName,
    role: roleName(m.role),
    joinedAt: date(m.createTime),
  };
}

/** apiKeyOf converts an ApiKey message. */
export function apiKeyOf(m: ApiKeyMessage | undefined): ApiKey {
  if (!m) throw sdkError(Code.Internal, "the server returned no API key");
  return {
    id: m.apiKeyId,
    organizationId: m.organizationId,
    name: m.name,
    prefix: m.keyPrefix,
    scopes: [...m.scopes],
    state: (ApiKeyState[m.state] ?? "ACTIVE").toLowerCase() as ApiKeyStateName,
    createdByUserId: m.createdByUserId,
    createdAt: date(m.createTime),
    expiresAt: date(m.expireTime),
    lastUsedAt: date(m.lastUseTime),
    revokedAt: date(m.revokeTime),
  };
}

function auditEventOf(m: AuditEventMessage): AuditEvent {
  return {
    id: m.auditEventId,
    organizationId: m.organizationId,
    time: date(m.eventTime),
    actor: {
      type: (ActorType[m.actor?.type ?? ActorType.UNSPECIFIED] ?? "UNSPECIFIED").toLowerCase(),
      userId: m.actor?.userId ?? "",
      apiKeyId: m.actor?.apiKeyId ?? "",
      displayName: m.actor?.displayName ?? "",
    },
    method: m.method,
    resourceType: m.resourceType,
    resourceId: m.resourceId,
    code: m.code,
    errorReason: errorReasonName(m.errorReason),
    requestId: m.requestId,
    clientIp: m.clientIp,
    userAgent: m.userAgent,
    details: { ...m.details },
  };
}

/** Runs unary calls of one IAM service under the client's policy. */
class Caller {
  constructor(private readonly policy: CallPolicy) {}
  /** call runs fn with deadline and retries (idempotent calls retry transient failures). */
  call<T>(idempotent: boolean, fn: (a: AttemptOptions) => Promise<T>): Promise<T> {
    return unary(this.policy, { idempotent }, fn);
  }
}

/** What CreateMember did (cove.organizations.createMember). */
export interface CreatedMember {
  /** member is the new membership. */
  member: Member;
  /** userCreated is true when no user had the email and one was made. */
  userCreated: boolean;
  /** apiKey is the member's first key, when scopes were asked for. */
  apiKey: ApiKey | undefined;
  /** secret is that key's secret, shown only now; "" without a key. */
  secret: string;
}

/** cove.organizations: organizations, members, usage and quotas. */
export class Organizations {
  private readonly caller: Caller;
  private ownId: string | undefined;

  constructor(
    private readonly client: Client<typeof OrganizationService>,
    policy: CallPolicy,
  ) {
    this.caller = new Caller(policy);
  }

  /** idOf returns organizationId, or the calling key's own organization's id when empty. */
  private async idOf(organizationId: string | undefined): Promise<string> {
    if (organizationId) return organizationId;
    this.ownId ??= (await this.get()).id;
    return this.ownId;
  }

  /** get returns an organization (default the key's own) with the caller's role in it. */
  async get(organizationId = ""): Promise<Organization & { role: RoleName | undefined }> {
    const res = await this.caller.call(true, (a) =>
      this.client.getOrganization({ organizationId }, a),
    );
    return {
      ...organizationOf(res.organization),
      role: res.role === Role.UNSPECIFIED ? undefined : roleName(res.role),
    };
  }

  /** list returns the organizations the caller's key can see (all pages). */
  async list(): Promise<Organization[]> {
    const out: Organization[] = [];
    let pageToken = "";
    do {
      const res = await this.caller.call(true, (a) =>
        this.client.listOrganizations({ pageSize: 500, pageToken }, a),
      );
      out.push(...res.organizations.map(organizationOf));
      pageToken = res.nextPageToken;
    } while (pageToken);
    return out;
  }

  /** create makes an organization with the caller as its OWNER. */
  async create(name: string): Promise<Organization> {
    const res = await this.caller.call(false, (a) => this.client.createOrganization({ name }, a));
    return organizationOf(res.organization);
  }

  /** update renames an organization (ADMIN or OWNER). */
  async update(organizationId: string, changes: { name?: string }): Promise<Organization> {
    const id = await this.idOf(organizationId);
    const res = await this.caller.call(true, (a) =>
      this.client.updateOrganization({ organizationId: id, name: changes.name }, a),
    );
    return organizationOf(res.organization);
  }

  /** delete deletes an organization without sandboxes (OWNER). */
  async delete(organizationId: string): Promise<void> {
    await this.caller.call(false, (a) => this.client.deleteOrganization({ organizationId }, a));
  }

  /** listMembers lists an organization's members by email (default the key's own). */
  async listMembers(organizationId?: string): Promise<Member[]> {
    const id = await this.idOf(organizationId);
    const out: Member[] = [];
    let pageToken = "";
    do {
      const res = await this.caller.call(true, (a) =>
        this.client.listMembers({ organizationId: id, pageSize: 500, pageToken }, a),
      );
      out.push(...res.members.map(memberOf));
      pageToken = res.nextPageToken;
    } while (pageToken);
    return out;
  }

  /** addMember adds an existing user by email (ADMIN or OWNER; OWNER to add an owner). */
  async addMember(
    organizationId: string | undefined,
    email: string,
    role: RoleName,
  ): Promise<Member> {
    const id = await this.idOf(organizationId);
    const res = await this.caller.call(false, (a) =>
      this.client.addMember({ organizationId: id, email, role: roleOf(role) }, a),
    );
    return memberOf(res.member);
  }

  /**
   * createMember adds a member by email, creating the user when there is none; with
   * apiKeyScopes it also issues the member's first API key (its secret is returned once).
   */
  async createMember(
    organizationId: string | undefined,
    params: {
      email: string;
      role: RoleName;
      displayName?: string;
      apiKeyScopes?: string[];
      apiKeyName?: string;
    },
  ): Promise<CreatedMember> {
    const id = await this.idOf(organizationId);
    const res = await this.caller.call(false, (a) =>
      this.client.createMember(
        {
          organizationId: id,
          email: params.email,
          role: roleOf(params.role),
          displayName: params.displayName ?? "",
          apiKeyScopes: params.apiKeyScopes ?? [],
          apiKeyName: params.apiKeyName ?? "",
        },
        a,
      ),
    );
    return {
      member: memberOf(res.member),
      userCreated: res.userCreated,
      apiKey: res.apiKey ? apiKeyOf(res.apiKey) : undefined,
      secret: res.apiKeySecret,
    };
  }

  /** updateMember changes a member's role. */
  async updateMember(
    organizationId: string | undefined,
    userId: string,
    role: RoleName,
  ): Promise<Member> {
    const id = await this.idOf(organizationId);
    const res = await this.caller.call(true, (a) =>
      this.client.updateMember({ organizationId: id, userId, role: roleOf(role) }, a),
    );
    return memberOf(res.member);
  }

  /** removeMember removes a member and revokes the keys they made in the organization. */
  async removeMember(organizationId: string | undefined, userId: string): Promise<void> {
    const id = await this.idOf(organizationId);
    await this.caller.call(false, (a) =>
      this.client.removeMember({ organizationId: id, userId }, a),
    );
  }

  /** getUsage returns an organization's quota and what it uses now (default the key's own). */
  async getUsage(organizationId = ""): Promise<{ quota: Quota; usage: Usage }> {
    const res = await this.caller.call(true, (a) => this.client.getUsage({ organizationId }, a));
    return { quota: quotaOf(res.quota), usage: usageOf(res.usage) };
  }

  /** updateQuota replaces an organization's whole quota (operator keys only). */
  async updateQuota(organizationId: string, quota: Partial<Quota>): Promise<Organization> {
    const res = await this.caller.call(true, (a) =>
      this.client.updateQuota({ organizationId, quota: { ...quotaOf(undefined), ...quota } }, a),
    );
    return organizationOf(res.organization);
  }
}

/** cove.apiKeys: the API keys of the calling key's organization. */
export class ApiKeys {
  private readonly caller: Caller;

  constructor(
    private readonly client: Client<typeof ApiKeyService>,
    policy: CallPolicy,
  ) {
    this.caller = new Caller(policy);
  }

  /** create makes a key acting as the calling user; its secret is returned only here. */
  async create(params: {
    name: string;
    scopes: string[];
    expiresAt?: Date;
    organizationId?: string;
  }): Promise<{ apiKey: ApiKey; secret: string }> {
    const res = await this.caller.call(false, (a) =>
      this.client.createApiKey(
        {
          name: params.name,
          scopes: params.scopes,
          expireTime: params.expiresAt ? timestampFromDate(params.expiresAt) : undefined,
          organizationId: params.organizationId ?? "",
        },
        a,
      ),
    );
    return { apiKey: apiKeyOf(res.apiKey), secret: res.secret };
  }

  /** list returns keys newest first (default only active ones; all pages). */
  async list(options: { states?: ApiKeyStateName[] } = {}): Promise<ApiKey[]> {
    const states = (options.states ?? []).map((s) => {
      const v = ApiKeyState[s.toUpperCase() as keyof typeof ApiKeyState];
      if (v === undefined) throw sdkError(Code.InvalidArgument, `unknown API key state "${s}"`);
      return v;
    });
    const out: ApiKey[] = [];
    let pageToken = "";
    do {
      const res = await this.caller.call(true, (a) =>
        this.client.listApiKeys({ pageSize: 500, pageToken, states }, a),
      );
      out.push(...res.apiKeys.map(apiKeyOf));
      pageToken = res.nextPageToken;
    } while (pageToken);
    return out;
  }

  /** get returns one key. */
  async get(apiKeyId: string): Promise<ApiKey> {
    const res = await this.caller.call(true, (a) => this.client.getApiKey({ apiKeyId }, a));
    return apiKeyOf(res.apiKey);
  }

  /** revoke revokes a key at once (revoking a revoked key succeeds). */
  async revoke(apiKeyId: string): Promise<ApiKey> {
    const res = await this.caller.call(true, (a) => this.client.revokeApiKey({ apiKeyId }, a));
    return apiKeyOf(res.apiKey);
  }
}

/** Filters of cove.audit.list. */
export interface AuditFilter {
  /** since keeps events at or after this time. */
  since?: Date;
  /** until keeps events before this time. */
  until?: Date;
  /** resourceType keeps events about this kind of object ("sandbox", "member", …). */
  resourceType?: string;
  /** resourceId keeps events about this object. */
  resourceId?: string;
  /** userId keeps events by this user. */
  userId?: string;
  /** method keeps events of this RPC. */
  method?: string;
  /** limit stops after this many events (default: all). */
  limit?: number;
}

/** cove.audit: the organization's audit log (ADMIN or OWNER, scope audit:read). */
export class Audit {
  private readonly caller: Caller;

  constructor(
    private readonly client: Client<typeof AuditService>,
    policy: CallPolicy,
  ) {
    this.caller = new Caller(policy);
  }

  /** list returns matching events, newest first. */
  async list(filter: AuditFilter = {}): Promise<AuditEvent[]> {
    const out: AuditEvent[] = [];
    for await (const e of this.iterate(filter)) out.push(e);
    return out;
  }

  /** iterate yields matching events, newest first, fetching pages as it goes. */
  async *iterate(filter: AuditFilter = {}): AsyncGenerator<AuditEvent, void, undefined> {
    let pageToken = "";
    let n = 0;
    const limit = filter.limit ?? Number.POSITIVE_INFINITY;
    do {
      const res = await this.caller.call(true, (a) =>
        this.client.listAuditEvents(
          {
            pageSize: Math.min(500, Number.isFinite(limit) ? limit - n : 500),
            pageToken,
            startTime: filter.since ? timestampFromDate(filter.since) : undefined,
            endTime: filter.until ? timestampFromDate(filter.until) : undefined,
            resourceType: filter.resourceType ?? "",
            resourceId: filter.resourceId ?? "",
            userId: filter.userId ?? "",
            method: filter.method ?? "",
          },
          a,
        ),
      );
      for (const e of res.auditEvents) {
        if (n++ >= limit) return;
        yield auditEventOf(e);
      }
      pageToken = res.nextPageToken;
    } while (pageToken && n < limit);
  }
}
