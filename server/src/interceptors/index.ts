/**
 * The API server's interceptor chain, outermost first:
 *
 *   request id + logging → errors → auth → rate limit → audit → errors → handler
 *
 * - Request id and logging are outermost so that every outcome, including refusals by auth
 *   and the rate limit, is logged and tagged with the request id.
 * - Errors are mapped to ConnectError (with google.rpc.ErrorInfo) by common's error
 *   interceptor in two places, and each error exactly once: the inner one maps what handlers
 *   throw, so that audit records the very code and reason the client gets; the outer one maps
 *   what auth, the rate limit and audit throw. A ConnectError passes the outer one unchanged.
 * - Auth runs before the rate limit, which needs the caller's organization; audit runs inside
 *   both (see audit.ts for why refused calls are not audited).
 */
import type { Interceptor } from "@connectrpc/connect";
import { createErrorInterceptor, type Logger } from "@cove/common";
import type { ApiKeyManager, ServiceCredentials } from "../domain/iam/api-keys.js";
import type { AuditLog } from "../domain/iam/audit.js";
import type { MethodRule } from "../domain/iam/scopes.js";
import type { SharedState } from "../shared/shared-state.js";
import { createAuditInterceptor } from "./audit.js";
import { createAuthInterceptor } from "./auth.js";
import {
  createRateLimitInterceptor,
  DEFAULT_RATE_LIMITS,
  type RateLimitConfig,
} from "./rate-limit.js";
import { createRequestIdInterceptor } from "./request-id.js";

/** What the API interceptors need. */
export interface ApiInterceptorDeps {
  /** Logs call outcomes and unexpected errors. */
  logger: Logger;
  /** Rate limiters shared by the replicas. */
  shared: SharedState;
  /** Authenticates API keys (and caches them briefly). */
  apiKeys: ApiKeyManager;
  /** Authenticates runner tokens and the proxy token. */
  credentials: ServiceCredentials;
  /** Where mutating calls are recorded. */
  audit: AuditLog;
  /** Rate limits; DEFAULT_RATE_LIMITS for what is not given. */
  limits?: Partial<RateLimitConfig>;
  /** Believe the x-cove-client-ip header (only when the server stamps it: stampClientIp). */
  trustClientIpHeader?: boolean;
  /** The access table; METHOD_RULES unless a test narrows it. */
  rules?: Readonly<Record<string, MethodRule>>;
}

/** createApiInterceptors returns the API server's interceptors in order (see the file comment). */
export function createApiInterceptors(deps: ApiInterceptorDeps): Interceptor[] {
  const limits = { ...DEFAULT_RATE_LIMITS, ...deps.limits };
  const errors = createErrorInterceptor(deps.logger);
  return [
    createRequestIdInterceptor({
      logger: deps.logger,
      trustClientIpHeader: deps.trustClientIpHeader,
    }),
    errors,
    createAuthInterceptor({
      apiKeys: deps.apiKeys,
      credentials: deps.credentials,
      failureLimiter: deps.shared.rateLimiter(
        "auth-failures",
        limits.authFailures.points,
        limits.authFailures.durationMs,
      ),
      failureLimit: limits.authFailures,
      rules: deps.rules,
      logger: deps.logger,
    }),
    createRateLimitInterceptor({
      shared: deps.shared,
      limits,
      rules: deps.rules,
      logger: deps.logger,
    }),
    createAuditInterceptor({ audit: deps.audit, rules: deps.rules, logger: deps.logger }),
    errors,
  ];
}

export { createAuditInterceptor, resourceIdOf } from "./audit.js";
export { bearerToken, createAuthInterceptor } from "./auth.js";
export {
  createRateLimitInterceptor,
  DEFAULT_RATE_LIMITS,
  type RateLimit,
  type RateLimitConfig,
  rateLimitedError,
} from "./rate-limit.js";
export {
  CLIENT_IP_HEADER,
  createRequestIdInterceptor,
  kClientIp,
  REQUEST_ID_HEADER,
  stampClientIp,
} from "./request-id.js";
