/**
 * Writes an audit event for every mutating call (as the access table says) made with an API
 * key, after the call has ended, with its final status. It sits inside auth and the rate
 * limit (calls refused there are not audited: an unauthenticated caller has no organization,
 * and auditing throttled floods would let them flood the log) and outside the innermost error
 * mapping, so it sees exactly the code and reason the client gets.
 */
import type { Interceptor } from "@connectrpc/connect";
import { ConnectError } from "@connectrpc/connect";
import type { Logger } from "@cove/common";
import { ErrorInfoSchema } from "@cove/gen-ts/google/rpc/error_details_pb.js";
import type { AuditLog } from "../domain/iam/audit.js";
import {
  METHOD_RULES,
  type MethodRule,
  methodRule,
  OPERATOR_SCOPE,
  RESOURCE_ID_FIELDS,
  type ResourceType,
} from "../domain/iam/scopes.js";
import { kPrincipal, kRequestId } from "../principal.js";
import { codeName, kClientIp } from "./request-id.js";

/** Options of the audit interceptor. */
export interface AuditOptions {
  /** Where events go. */
  audit: AuditLog;
  /** The access table; METHOD_RULES by default. */
  rules?: Readonly<Record<string, MethodRule>>;
  /** Audit writes that fail are logged here; the call's outcome stands. */
  logger: Logger;
}

/**
 * resourceIdOf finds the id of the object a call changed: the request's field for the
 * resource type (e.g. sandboxId; userId for members), else that field on a message at the top
 * of the response (e.g. response.sandbox.sandboxId for a create).
 */
export function resourceIdOf(
  resourceType: ResourceType,
  request: unknown,
  response: unknown,
): string {
  const field = RESOURCE_ID_FIELDS[resourceType];
  const own = (value: unknown): string | undefined => {
    if (typeof value !== "object" || value === null) return undefined;
    const id = (value as Record<string, unknown>)[field];
    return typeof id === "string" && id !== "" ? id : undefined;
  };
  const fromRequest = own(request);
  if (fromRequest) return fromRequest;
  const fromResponse = own(response);
  if (fromResponse) return fromResponse;
  if (typeof response === "object" && response !== null) {
    for (const value of Object.values(response as Record<string, unknown>)) {
      const nested = own(value);
      if (nested) return nested;
    }
  }
  return "";
}

/** createAuditInterceptor builds the audit interceptor (see the file comment). */
export function createAuditInterceptor(options: AuditOptions): Interceptor {
  const rules = options.rules ?? METHOD_RULES;
  return (next) => async (req) => {
    const procedure = `${req.service.typeName}/${req.method.name}`;
    const rule = methodRule(procedure, rules);
    const principal = req.contextValues.get(kPrincipal);
    if (rule?.auth !== "apiKey" || !rule.mutating || principal?.kind !== "apiKey") {
      return next(req);
    }
    const request = req.stream ? undefined : req.message;
    const write = async (err: unknown, response: unknown) => {
      let errorReason = "";
      if (err instanceof ConnectError)
        errorReason = err.findDetails(ErrorInfoSchema)[0]?.reason ?? "";
      try {
        await options.audit.record({
          organizationId: principal.organizationId,
          actorType: rule.scope === OPERATOR_SCOPE ? "OPERATOR" : "USER",
          userId: principal.userId,
          apiKeyId: principal.apiKeyId,
          method: procedure,
          resourceType: rule.resourceType,
          resourceId: resourceIdOf(rule.resourceType, request, response),
          code: err === undefined ? "OK" : codeName(err),
          errorReason,
          requestId: req.contextValues.get(kRequestId),
          clientIp: req.contextValues.get(kClientIp),
          userAgent: req.header.get("user-agent") ?? "",
        });
      } catch (auditErr) {
        options.logger.error("audit write failed", { procedure, err: auditErr });
      }
    };
    let res: Awaited<ReturnType<typeof next>>;
    try {
      res = await next(req);
    } catch (err) {
      await write(err, undefined);
      throw err;
    }
    // A streaming mutation is recorded when its stream opens.
    await write(undefined, res.stream ? undefined : res.message);
    return res;
  };
}
