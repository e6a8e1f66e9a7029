/**
 * The audit log: one row per call that is not read-only (successful or not) and per change
 * Cove makes by itself, readable by an organization's OWNERs and ADMINs for 90 days.
 */
import { createHash } from "node:crypto";
import { invalidArgument } from "@cove/common";
import type { Knex } from "knex";
import type { Principal } from "../../principal.js";
import {
  decodePageToken,
  encodePageToken,
  pageSizeOf,
  requireRole,
  roleOf,
  userCaller,
} from "./users.js";

/** How long audit events are kept (and listed), days. Older rows are for a cleanup job to delete. */
export const AUDIT_RETENTION_DAYS = 90;

/** Who acted (cove.iam.v1.ActorType names without prefix). */
export type ActorTypeName = "USER" | "SYSTEM" | "OPERATOR";

/** One audit event to record. */
export interface AuditEntry {
  /** The organization the change was made in. */
  organizationId: string;
  /** What kind of actor. */
  actorType: ActorTypeName;
  /** The acting user, for USER (and an operator's key's user). */
  userId?: string;
  /** The API key used, if any. */
  apiKeyId?: string;
  /** For SYSTEM: the job's name, e.g. "auto-stop". */
  actorName?: string;
  /** The RPC ("cove.sandbox.v1.SandboxService/CreateSandbox") or "system/<action>". */
  method: string;
  /** Kind of object changed ("sandbox", "api_key", …), or "". */
  resourceType: string;
  /** Id of the object changed, or "". */
  resourceId: string;
  /** The gRPC status code name: "OK", "NOT_FOUND", … */
  code: string;
  /** ErrorReason name without prefix when the call failed, else "". */
  errorReason: string;
  /** Request id in the server's logs, or "". */
  requestId: string;
  /** Caller's IP address, or "". */
  clientIp: string;
  /** Caller's user-agent (cut to 256 characters), or "". */
  userAgent: string;
  /** Extra facts, never secrets. */
  details?: Record<string, string>;
}

/** A recorded audit event. */
export interface AuditEventRecord extends AuditEntry {
  /** Event id. */
  id: string;
  /** When it was recorded. */
  time: Date;
  /** The actor for display: user email, else key name, else the system job. */
  displayName: string;
}

/** Filters of ListAuditEvents; empty strings and undefined mean "any". */
export interface AuditFilters {
  /** Events at or after. */
  startTime?: Date;
  /** Events before. */
  endTime?: Date;
  /** Kind of object. */
  resourceType: string;
  /** Object id. */
  resourceId: string;
  /** Acting user. */
  userId: string;
  /** RPC. */
  method: string;
}

interface AuditMetadata {
  actorType?: ActorTypeName;
  actorName?: string;
  userId?: string;
  errorReason?: string;
  clientIp?: string;
  userAgent?: string;
  details?: Record<string, string>;
}

/** AuditLog writes and reads audit_events. */
export class AuditLog {
  constructor(private readonly options: { db: Knex }) {}

  /** record writes one event. */
  async record(entry: AuditEntry): Promise<void> {
    const metadata: AuditMetadata = {
      actorType: entry.actorType,
      actorName: entry.actorName,
      userId: entry.userId,
      errorReason: entry.errorReason || undefined,
      clientIp: entry.clientIp || undefined,
      userAgent: entry.userAgent ? entry.userAgent.slice(0, 256) : undefined,
      details: entry.details,
    };
    await this.options.db("audit_events").insert({
      organization_id: entry.organizationId,
      actor: entry.apiKeyId || `system:${entry.actorName ?? ""}`,
      method: entry.method,
      resource_type: entry.resourceType,
      resource_id: entry.resourceId,
      outcome: entry.code,
      request_id: entry.requestId,
      metadata: JSON.stringify(metadata),
    });
  }

  /** list is ListAuditEvents: the caller's organization only, newest first, OWNER or ADMIN. */
  async list(
    principal: Principal | undefined,
    input: AuditFilters & { pageSize: number; pageToken: string },
  ): Promise<{ events: AuditEventRecord[]; nextPageToken: string }> {
    const caller = userCaller(principal);
    const pageSize = pageSizeOf(input.pageSize);
    const { startTime, endTime } = input;
    if (startTime && endTime && startTime.getTime() > endTime.getTime()) {
      throw invalidArgument("start_time", "must not be after end_time");
    }
    const fingerprint = createHash("sha256")
      .update(
        JSON.stringify([
          startTime?.toISOString() ?? "",
          endTime?.toISOString() ?? "",
          input.resourceType,
          input.resourceId,
          input.userId,
          input.method,
        ]),
      )
      .digest("base64url")
      .slice(0, 16);
    const after = decodePageToken(input.pageToken, 1, fingerprint);
    const role = await roleOf(this.options.db, caller.organizationId, caller.userId);
    requireRole(role, ["OWNER", "ADMIN"], "reading the audit log");

    const db = this.options.db;
    const q = db("audit_events as a")
      .leftJoin("api_keys as k", "k.id", "a.actor")
      .leftJoin("users as u", "u.id", db.raw("a.metadata->>'userId'"))
      .select("a.*", "k.name as key_name", "u.email as user_email")
      .where("a.organization_id", caller.organizationId)
      .andWhereRaw(`a.time > now() - interval '${AUDIT_RETENTION_DAYS} days'`)
      .orderBy("a.id", "desc")
      .limit(pageSize + 1);
    if (startTime) q.andWhere("a.time", ">=", startTime);
    if (endTime) q.andWhere("a.time", "<", endTime);
    if (input.resourceType) q.andWhere("a.resource_type", input.resourceType);
    if (input.resourceId) q.andWhere("a.resource_id", input.resourceId);
    if (input.method) q.andWhere("a.method", input.method);
    if (input.userId) q.andWhereRaw("a.metadata->>'userId' = ?", [input.userId]);
    if (after) {
      const last = String(after[0]);
      if (!/^\d+$/.test(last))
        throw invalidArgument("page_token", "is not a token this list returned");
      q.andWhere("a.id", "<", last);
    }
    const rows = await q;
    const page = rows.slice(0, pageSize).map(toEvent);
    const last = page[page.length - 1];
    return {
      events: page,
      nextPageToken: rows.length > pageSize && last ? encodePageToken([last.id], fingerprint) : "",
    };
  }
}

function toEvent(row: {
  id: string | number;
  organization_id: string;
  actor: string;
  method: string;
  resource_type: string;
  resource_id: string;
  outcome: string;
  request_id: string;
  metadata: AuditMetadata | null;
  time: Date;
  key_name: string | null;
  user_email: string | null;
}): AuditEventRecord {
  const meta = row.metadata ?? {};
  const system = row.actor.startsWith("system:");
  return {
    id: String(row.id),
    organizationId: row.organization_id,
    actorType: meta.actorType ?? (system ? "SYSTEM" : "USER"),
    userId: meta.userId,
    apiKeyId: system ? undefined : row.actor,
    actorName: meta.actorName,
    method: row.method,
    resourceType: row.resource_type,
    resourceId: row.resource_id,
    code: row.outcome,
    errorReason: meta.errorReason ?? "",
    requestId: row.request_id,
    clientIp: meta.clientIp ?? "",
    userAgent: meta.userAgent ?? "",
    details: meta.details,
    time: row.time,
    displayName: row.user_email ?? row.key_name ?? meta.actorName ?? "",
  };
}
