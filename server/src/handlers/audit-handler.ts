import { create } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { errorReasonValue } from "@cove/common";
import {
  ActorType,
  type AuditEvent,
  AuditEventSchema,
} from "@cove/gen-ts/cove/iam/v1/audit_event_pb.js";
import type {
  AuditService,
  ListAuditEventsRequest,
} from "@cove/gen-ts/cove/iam/v1/audit_service_pb.js";
import type { AuditEventRecord, AuditLog } from "../domain/iam/audit.js";
import { kPrincipal } from "../principal.js";

/** toAuditEventProto builds the AuditEvent message of a recorded event. */
export function toAuditEventProto(event: AuditEventRecord): AuditEvent {
  return create(AuditEventSchema, {
    auditEventId: event.id,
    organizationId: event.organizationId,
    eventTime: timestampFromDate(event.time),
    actor: {
      type: ActorType[event.actorType],
      userId: event.userId ?? "",
      apiKeyId: event.apiKeyId ?? "",
      displayName: event.displayName,
    },
    method: event.method,
    resourceType: event.resourceType,
    resourceId: event.resourceId,
    code: event.code,
    errorReason: errorReasonValue(event.errorReason),
    requestId: event.requestId,
    clientIp: event.clientIp,
    userAgent: event.userAgent,
    details: event.details ?? {},
  });
}

/** AuditHandler serves cove.iam.v1.AuditService over AuditLog. */
export class AuditHandler implements ServiceImpl<typeof AuditService> {
  constructor(private readonly audit: AuditLog) {}

  async listAuditEvents(req: ListAuditEventsRequest, ctx: HandlerContext) {
    const page = await this.audit.list(ctx.values.get(kPrincipal), {
      pageSize: req.pageSize,
      pageToken: req.pageToken,
      startTime: req.startTime ? timestampDate(req.startTime) : undefined,
      endTime: req.endTime ? timestampDate(req.endTime) : undefined,
      resourceType: req.resourceType,
      resourceId: req.resourceId,
      userId: req.userId,
      method: req.method,
    });
    return {
      auditEvents: page.events.map(toAuditEventProto),
      nextPageToken: page.nextPageToken,
    };
  }
}
