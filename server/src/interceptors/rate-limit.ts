/**
 * Request rate limits per organization and method class (reads, writes), through the shared
 * rate limiter so that every API replica counts together. Refusals are RESOURCE_EXHAUSTED
 * (reason RATE_LIMITED) with a google.rpc.RetryInfo detail. If the limiter itself fails, calls
 * are refused (fail closed), never let through.
 */
import { create } from "@bufbuild/protobuf";
import type { Interceptor } from "@connectrpc/connect";
import { type Logger, resourceExhausted, toConnectError } from "@cove/common";
import { RetryInfoSchema } from "@cove/gen-ts/google/rpc/error_details_pb.js";
import { METHOD_RULES, type MethodRule, methodRule } from "../domain/iam/scopes.js";
import { kPrincipal } from "../principal.js";
import type { RateDecision, RateLimiter, SharedState } from "../shared/shared-state.js";

/** One limit: `points` calls per `durationMs` window. */
export interface RateLimit {
  /** Calls allowed per window. */
  points: number;
  /** Window length, ms. */
  durationMs: number;
}

/** Every limit the API applies. */
export interface RateLimitConfig {
  /** Read-only calls per organization. */
  reads: RateLimit;
  /** Mutating calls per organization (the scope table says which). */
  writes: RateLimit;
  /** Failed authentications per client IP (key brute force). */
  authFailures: RateLimit;
}

/** The defaults: 1000 reads and 100 writes per organization per 10 s; 20 failed auths per IP a minute. */
export const DEFAULT_RATE_LIMITS: RateLimitConfig = {
  reads: { points: 1000, durationMs: 10_000 },
  writes: { points: 100, durationMs: 10_000 },
  authFailures: { points: 20, durationMs: 60_000 },
};

function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))}s`;
}

/**
 * rateLimitedError builds the refusal a client sees: RESOURCE_EXHAUSTED, reason RATE_LIMITED,
 * ErrorInfo metadata limit, window, retryAfter (durations like "1.5s") and retryAfterMs, and a
 * RetryInfo detail.
 */
export function rateLimitedError(
  limit: RateLimit,
  retryAfterMs: number,
  logger: Logger,
  procedure: string,
  what = "too many requests",
) {
  const wait = Math.max(1, Math.ceil(retryAfterMs));
  const err = toConnectError(
    resourceExhausted("RATE_LIMITED", `${what}; retry in ${seconds(wait)}`, {
      limit: String(limit.points),
      window: seconds(limit.durationMs),
      retryAfter: seconds(wait),
      retryAfterMs: String(wait),
    }),
    logger,
    procedure,
  );
  err.details.push({
    desc: RetryInfoSchema,
    value: create(RetryInfoSchema, {
      retryDelay: { seconds: BigInt(Math.floor(wait / 1000)), nanos: (wait % 1000) * 1_000_000 },
    }),
  });
  return err;
}

/**
 * consumeOrRefuse takes one point and returns undefined when allowed, or the refusal to throw.
 * A limiter that throws counts as a refusal (fail closed) with a 1 s retry.
 */
export async function consumeOrRefuse(
  limiter: RateLimiter,
  key: string,
  limit: RateLimit,
  logger: Logger,
  procedure: string,
) {
  let decision: RateDecision;
  try {
    decision = await limiter.consume(key);
  } catch (err) {
    logger.warn("rate limiter failed; refusing the call", { procedure, err });
    return rateLimitedError(limit, 1000, logger, procedure, "rate limiter unavailable");
  }
  if (decision.allowed) return undefined;
  return rateLimitedError(limit, decision.retryAfterMs, logger, procedure);
}

/** Options of the rate limit interceptor. */
export interface RateLimitOptions {
  /** Provides the limiters. */
  shared: SharedState;
  /** Limits; defaults DEFAULT_RATE_LIMITS. */
  limits?: Partial<RateLimitConfig>;
  /** The access table (tells reads from writes). */
  rules?: Readonly<Record<string, MethodRule>>;
  /** For refusals caused by a failing limiter. */
  logger: Logger;
}

/**
 * createRateLimitInterceptor limits API key calls per organization: writes (mutating methods)
 * and reads in separate budgets. Runner, proxy and public calls are not limited here. Runs
 * after auth (it needs the organization).
 */
export function createRateLimitInterceptor(options: RateLimitOptions): Interceptor {
  const limits = { ...DEFAULT_RATE_LIMITS, ...options.limits };
  const rules = options.rules ?? METHOD_RULES;
  const reads = options.shared.rateLimiter(
    "api-reads",
    limits.reads.points,
    limits.reads.durationMs,
  );
  const writes = options.shared.rateLimiter(
    "api-writes",
    limits.writes.points,
    limits.writes.durationMs,
  );
  return (next) => async (req) => {
    const principal = req.contextValues.get(kPrincipal);
    if (principal?.kind !== "apiKey") return next(req);
    const procedure = `${req.service.typeName}/${req.method.name}`;
    const rule = methodRule(procedure, rules);
    const mutating = rule?.auth === "apiKey" ? rule.mutating : true;
    const refusal = await consumeOrRefuse(
      mutating ? writes : reads,
      principal.organizationId,
      mutating ? limits.writes : limits.reads,
      options.logger,
      procedure,
    );
    if (refusal) throw refusal;
    return next(req);
  };
}
