/**
 * Authentication and authorization of every call, from the one access table (METHOD_RULES):
 * public methods pass; API keys, runner tokens and the proxy token are checked as the rule
 * says and the caller is put in kPrincipal; an API key must hold the rule's scope. A procedure
 * the table does not know is denied before any credential is looked at (fail closed).
 * Failed authentications are counted per client IP (when the server knows it, see kClientIp),
 * and an IP over the limit is refused with RESOURCE_EXHAUSTED (RATE_LIMITED) without further
 * lookups, to make key guessing pointless.
 */
import type { Interceptor } from "@connectrpc/connect";
import { CoveError, type Logger, permissionDenied } from "@cove/common";
import {
  type ApiKeyManager,
  type ServiceCredentials,
  unauthenticated,
} from "../domain/iam/api-keys.js";
import { hasScope, METHOD_RULES, type MethodRule, methodRule } from "../domain/iam/scopes.js";
import { kPrincipal } from "../principal.js";
import type { RateLimiter } from "../shared/shared-state.js";
import { type RateLimit, rateLimitedError } from "./rate-limit.js";
import { kClientIp } from "./request-id.js";

/** bearerToken returns the token of an "authorization: Bearer <token>" header; "" if malformed, undefined if absent. */
export function bearerToken(header: Headers): string | undefined {
  const value = header.get("authorization");
  if (value === null) return undefined;
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(value);
  return match?.[1] ?? "";
}

/** Options of the auth interceptor. */
export interface AuthOptions {
  /** Authenticates API keys. */
  apiKeys: ApiKeyManager;
  /** Authenticates runners and the proxy. */
  credentials: ServiceCredentials;
  /** Counts failed authentications per client IP. */
  failureLimiter: RateLimiter;
  /** The limit failureLimiter enforces (for the error's metadata). */
  failureLimit: RateLimit;
  /** The access table; METHOD_RULES unless a test narrows it. */
  rules?: Readonly<Record<string, MethodRule>>;
  /** For limiter failures. */
  logger: Logger;
}

/** createAuthInterceptor builds the auth interceptor (see the file comment). */
export function createAuthInterceptor(options: AuthOptions): Interceptor {
  const rules = options.rules ?? METHOD_RULES;
  // IPs that went over the failure limit, until when; checked before any lookup. Each replica
  // learns of a blocked IP by the first failure it sees itself.
  const blocked = new Map<string, number>();

  const refuseIfBlocked = (ip: string, procedure: string) => {
    if (ip === "") return;
    const until = blocked.get(ip);
    if (until === undefined) return;
    const now = Date.now();
    if (until <= now) {
      blocked.delete(ip);
      return;
    }
    throw rateLimitedError(
      options.failureLimit,
      until - now,
      options.logger,
      procedure,
      "too many failed authentications",
    );
  };

  const failed = async (ip: string, procedure: string, err: CoveError): Promise<never> => {
    // Without a trustworthy client IP every caller would share one bucket, and twenty bad
    // keys would lock everyone out; so nothing is counted (guessing a 256-bit key is futile
    // anyway). Servers enable the throttle by stamping the peer address (stampClientIp).
    if (ip === "") throw err;
    let decision: Awaited<ReturnType<RateLimiter["consume"]>> | undefined;
    try {
      decision = await options.failureLimiter.consume(`ip:${ip}`);
    } catch (limiterErr) {
      options.logger.warn("auth failure limiter failed", { procedure, err: limiterErr });
    }
    if (decision && !decision.allowed) {
      if (blocked.size >= 100_000) blocked.clear();
      blocked.set(ip, Date.now() + decision.retryAfterMs);
      throw rateLimitedError(
        options.failureLimit,
        decision.retryAfterMs,
        options.logger,
        procedure,
        "too many failed authentications",
      );
    }
    throw err;
  };

  const attempt = async <T>(ip: string, procedure: string, check: () => Promise<T>): Promise<T> => {
    try {
      return await check();
    } catch (err) {
      if (err instanceof CoveError && err.code === "unauthenticated") {
        return failed(ip, procedure, err);
      }
      throw err;
    }
  };

  return (next) => async (req) => {
    const procedure = `${req.service.typeName}/${req.method.name}`;
    const rule = methodRule(procedure, rules);
    if (!rule) {
      throw permissionDenied("PERMISSION_DENIED", `${procedure} has no access rule; denied`);
    }
    if (rule.auth === "public") return next(req);
    if (rule.auth === "toolbox") {
      throw permissionDenied(
        "PERMISSION_DENIED",
        `${procedure} is served by the sandbox's daemon through the proxy, not by this server`,
      );
    }
    const ip = req.contextValues.get(kClientIp);
    const token = bearerToken(req.header);

    if (rule.auth === "runner") {
      refuseIfBlocked(ip, procedure);
      const { runnerId } = await attempt(ip, procedure, () =>
        options.credentials.runner(token ?? ""),
      );
      req.contextValues.set(kPrincipal, { kind: "runner", runnerId });
      return next(req);
    }

    if (rule.auth === "proxy") {
      refuseIfBlocked(ip, procedure);
      await attempt(ip, procedure, async () => options.credentials.proxy(token ?? ""));
      req.contextValues.set(kPrincipal, { kind: "proxy" });
      return next(req);
    }

    if (token === undefined) {
      throw unauthenticated("CREDENTIALS_MISSING", 'send "authorization: Bearer <API key>"');
    }
    refuseIfBlocked(ip, procedure);
    const principal = await attempt(ip, procedure, () => {
      if (token === "") {
        throw unauthenticated(
          "API_KEY_INVALID",
          'the authorization header is not "Bearer <API key>"',
        );
      }
      return options.apiKeys.authenticate(token);
    });
    if (!hasScope(principal.scopes, rule.scope)) {
      throw permissionDenied(
        "PERMISSION_DENIED",
        `${procedure} needs scope "${rule.scope}" (within your role)`,
        { requiredScope: rule.scope },
      );
    }
    req.contextValues.set(kPrincipal, principal);
    return next(req);
  };
}
