// `cove audit`: the organization's audit log (AuditService), newest first, with filters.
import { toJson } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type AuditEvent, AuditEventSchema } from "@cove/gen-ts/cove/iam/v1/audit_event_pb.js";
import { errorReasonName } from "@cove/sdk";
import type { ParsedArgs } from "../args.js";
import { api } from "../clients.js";
import type { Context } from "../context.js";
import { UsageError } from "../errors.js";
import { boolFlag, intFlag, stringFlag } from "../flags.js";
import { isoTime, printJson, printTable } from "../output.js";

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** parseSince reads --since: "90s", "15m", "2h", "7d" ago, or an RFC 3339 time. */
export function parseSince(text: string, now = Date.now()): Date {
  const m = /^(\d+)([smhd])$/.exec(text);
  if (m) return new Date(now - Number(m[1]) * (UNITS[m[2] as string] ?? 1) * 1000);
  const t = Date.parse(text);
  if (Number.isNaN(t) || !/^\d{4}-\d{2}-\d{2}/.test(text)) {
    throw new UsageError(
      `--since takes a duration such as 15m, 2h or 7d, or a time such as 2025-01-31T12:00:00Z, not ${JSON.stringify(text)}`,
    );
  }
  return new Date(t);
}

/** listAudit is `cove audit`. */
export async function listAudit(parsed: ParsedArgs, ctx: Context): Promise<number> {
  const limit = intFlag(parsed, "limit", { min: 1, max: 100_000 }) ?? 50;
  const since = stringFlag(parsed, "since");
  const startTime = since ? timestampFromDate(parseSince(since)) : undefined;
  const events: AuditEvent[] = [];
  let pageToken = "";
  do {
    const page = await api(ctx).audit.listAuditEvents(
      {
        pageSize: Math.min(500, limit - events.length),
        pageToken,
        startTime,
        method: stringFlag(parsed, "method") ?? "",
        resourceType: stringFlag(parsed, "resource-type") ?? "",
        resourceId: stringFlag(parsed, "resource-id") ?? "",
        userId: stringFlag(parsed, "user") ?? "",
      },
      { timeoutMs: 30_000 },
    );
    events.push(...page.auditEvents);
    pageToken = page.nextPageToken;
  } while (pageToken && events.length < limit);
  if (boolFlag(parsed, "json")) {
    printJson(
      ctx.io,
      events.map((e) => toJson(AuditEventSchema, e)),
    );
    return 0;
  }
  if (events.length === 0) {
    ctx.io.stderr.write("no audit events\n");
    return 0;
  }
  printTable(
    ctx.io,
    ["TIME", "ACTOR", "METHOD", "RESOURCE", "RESULT"],
    events.map((e) => [
      isoTime(e.eventTime),
      e.actor?.displayName || e.actor?.userId || "",
      e.method.replace(/^cove\.\w+\.v1\./, ""),
      e.resourceId ? `${e.resourceType} ${e.resourceId}` : e.resourceType,
      e.errorReason ? `${e.code} ${errorReasonName(e.errorReason) ?? ""}` : e.code,
    ]),
  );
  return 0;
}
