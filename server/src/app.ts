import type { ConnectRouter } from "@connectrpc/connect";
import type { GrpcServerOptions, Logger } from "@cove/common";
import { ApiKeyService } from "@cove/gen-ts/cove/iam/v1/api_key_service_pb.js";
import { AuditService } from "@cove/gen-ts/cove/iam/v1/audit_service_pb.js";
import { OrganizationService } from "@cove/gen-ts/cove/iam/v1/organization_service_pb.js";
import { RunnerAdminService } from "@cove/gen-ts/cove/runner/v1/runner_admin_service_pb.js";
import { RunnerService } from "@cove/gen-ts/cove/runner/v1/runner_service_pb.js";
import { SandboxService } from "@cove/gen-ts/cove/sandbox/v1/sandbox_service_pb.js";
import type { Knex } from "knex";
import type { ServerConfig } from "./config.js";
import { EdgeResolver } from "./domain/edge/resolver.js";
import { ApiKeyManager, hashSecret, ServiceCredentials } from "./domain/iam/api-keys.js";
import { AuditLog } from "./domain/iam/audit.js";
import { OrganizationManager } from "./domain/iam/organizations.js";
import { SandboxManager } from "./domain/sandbox/manager.js";
import { SandboxTimers } from "./domain/sandbox/timers.js";
import { ApiKeyHandler } from "./handlers/api-key-handler.js";
import { AuditHandler } from "./handlers/audit-handler.js";
import { EdgeHandler, EdgeService } from "./handlers/edge-handler.js";
import { OrganizationHandler } from "./handlers/organization-handler.js";
import { RunnerAdminHandler } from "./handlers/runner-admin-handler.js";
import { RunnerHandler } from "./handlers/runner-handler.js";
import { SandboxHandler } from "./handlers/sandbox-handler.js";
import { createApiInterceptors, stampClientIp } from "./interceptors/index.js";
import { DEFAULT_RATE_LIMITS, type RateLimitConfig } from "./interceptors/rate-limit.js";
import { RunnerHub } from "./runner-stream/runner-hub.js";
import type { SharedState } from "./shared/shared-state.js";

/** Knobs tests turn; production uses the defaults. */
export interface ServerTuning {
  /** Runner heartbeat interval, ms (default 10 s). */
  heartbeatIntervalMs?: number;
  /** Orphan grace period, ms (default 10 min). */
  orphanGracePeriodMs?: number;
  /** Timer sweep interval, ms (default 5 s). */
  sweepIntervalMs?: number;
}

/** The API server's parts, wired and ready to listen. */
export interface ServerApp {
  /** Options for startGrpcServer. */
  server: GrpcServerOptions;
  /** The lifecycle (for tests and tools). */
  sandboxes: SandboxManager;
  /** The runner hub. */
  hub: RunnerHub;
  /** start begins background work: runner sweeps, timers, cache invalidation. */
  start(): Promise<void>;
  /** close stops background work (streams end; runners reconnect elsewhere). */
  close(): Promise<void>;
}

/** createServerApp wires every service of the API server over one database and shared state. */
export function createServerApp(deps: {
  db: Knex;
  shared: SharedState;
  logger: Logger;
  config: Pick<ServerConfig, "runnerRegistrationToken" | "proxyToken" | "defaultImage" | "urls"> &
    Partial<Pick<ServerConfig, "corsOrigins" | "rateLimits" | "publicImages">>;
  tuning?: ServerTuning;
}): ServerApp {
  const { db, shared, logger, config } = deps;
  const tuning = deps.tuning ?? {};
  const apiKeys = new ApiKeyManager({
    db,
    events: shared.events,
    onBackgroundError: (err) => logger.warn("background api key write failed", { err }),
  });
  const credentials = new ServiceCredentials({
    db,
    runnerRegistrationTokenHash: config.runnerRegistrationToken
      ? hashSecret(config.runnerRegistrationToken)
      : undefined,
    proxyTokenHash: config.proxyToken ? hashSecret(config.proxyToken) : undefined,
  });
  const audit = new AuditLog({ db });
  const organizations = new OrganizationManager({ db, apiKeys });
  let hub: RunnerHub | undefined;
  const sandboxes = new SandboxManager({
    db,
    events: shared.events,
    dispatcher: { notify: (runnerId) => hub?.notify(runnerId) },
    logger: logger.child({ part: "sandboxes" }),
    options: {
      defaultImage: config.defaultImage,
      publicImages: config.publicImages ?? [],
      urls: config.urls,
    },
  });
  hub = new RunnerHub({
    db,
    sink: sandboxes.observer,
    events: shared.events,
    locks: shared.locks,
    logger: logger.child({ part: "runners" }),
    heartbeatIntervalMs: tuning.heartbeatIntervalMs,
    orphanGracePeriodMs: tuning.orphanGracePeriodMs,
  });
  const runnerHub = hub;
  const timers = new SandboxTimers({
    db,
    locks: shared.locks,
    manager: sandboxes,
    logger: logger.child({ part: "timers" }),
    options: tuning.sweepIntervalMs ? { intervalMs: tuning.sweepIntervalMs } : undefined,
  });
  const edge = new EdgeResolver({ db, apiKeys, heartbeatMs: tuning.heartbeatIntervalMs });
  const services = [
    SandboxService,
    OrganizationService,
    ApiKeyService,
    AuditService,
    RunnerService,
    RunnerAdminService,
    EdgeService,
  ];
  return {
    server: {
      services,
      routes(router: ConnectRouter) {
        router.service(SandboxService, new SandboxHandler(sandboxes));
        router.service(OrganizationService, new OrganizationHandler(organizations));
        router.service(ApiKeyService, new ApiKeyHandler(apiKeys));
        router.service(AuditService, new AuditHandler(audit));
        router.service(RunnerService, new RunnerHandler(runnerHub));
        router.service(RunnerAdminService, new RunnerAdminHandler(runnerHub.registry));
        router.service(EdgeService, new EdgeHandler(edge, shared.events));
      },
      interceptors: createApiInterceptors({
        logger,
        shared,
        apiKeys,
        credentials,
        audit,
        trustClientIpHeader: true,
        limits: rateLimitsFrom(config.rateLimits),
      }),
      beforeRequest: stampClientIp,
      cors: { allowedOrigins: config.corsOrigins ?? "*" },
    },
    sandboxes,
    hub: runnerHub,
    async start() {
      await apiKeys.start();
      runnerHub.start();
      timers.start();
    },
    async close() {
      await timers.stop();
      await runnerHub.stop();
      await apiKeys.close();
    },
  };
}

/** rateLimitsFrom turns configured counts into limiter settings over the default windows. */
function rateLimitsFrom(limits: ServerConfig["rateLimits"] | undefined): Partial<RateLimitConfig> {
  const out: Partial<RateLimitConfig> = {};
  if (limits?.reads) out.reads = { ...DEFAULT_RATE_LIMITS.reads, points: limits.reads };
  if (limits?.writes) out.writes = { ...DEFAULT_RATE_LIMITS.writes, points: limits.writes };
  if (limits?.authFailures) {
    out.authFailures = { ...DEFAULT_RATE_LIMITS.authFailures, points: limits.authFailures };
  }
  return out;
}
