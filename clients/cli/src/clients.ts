// Connect-ES clients for the API server and, through the proxy, a sandbox's toolbox: gRPC over
// HTTP/2, the API key as a bearer token, and every failure tagged with where it went.
import type { DescService } from "@bufbuild/protobuf";
import {
  type Client,
  ConnectError,
  createClient,
  type Interceptor,
  type Transport,
} from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ApiKeyService } from "@cove/gen-ts/cove/iam/v1/api_key_service_pb.js";
import { AuditService } from "@cove/gen-ts/cove/iam/v1/audit_service_pb.js";
import { OrganizationService } from "@cove/gen-ts/cove/iam/v1/organization_service_pb.js";
import { SandboxService } from "@cove/gen-ts/cove/sandbox/v1/sandbox_service_pb.js";
import { SnapshotService } from "@cove/gen-ts/cove/snapshot/v1/snapshot_service_pb.js";
import { ProcessService } from "@cove/gen-ts/cove/toolbox/v1/process_service_pb.js";
import { VolumeService } from "@cove/gen-ts/cove/volume/v1/volume_service_pb.js";
import { type CallPolicy, unary } from "@cove/sdk";
import type { ResolvedConfig } from "./config.js";
import { rememberCallSite } from "./connect-errors.js";
import type { Context } from "./context.js";
import { CliError } from "./errors.js";

/** The header that names the sandbox on toolbox calls through the proxy. */
const SANDBOX_ID_HEADER = "cove-sandbox-id";

/** The clients of the API server. */
export interface ApiClients {
  /** SandboxService. */
  sandboxes: Client<typeof SandboxService>;
  /** SnapshotService. */
  snapshots: Client<typeof SnapshotService>;
  /** VolumeService. */
  volumes: Client<typeof VolumeService>;
  /** OrganizationService. */
  organizations: Client<typeof OrganizationService>;
  /** ApiKeyService. */
  apiKeys: Client<typeof ApiKeyService>;
  /** AuditService. */
  audit: Client<typeof AuditService>;
}

/** headers sets fixed request headers. */
function headers(values: Record<string, string>): Interceptor {
  return (next) => (req) => {
    for (const [name, value] of Object.entries(values)) req.header.set(name, value);
    return next(req);
  };
}

/** tagErrors remembers, for every error a call produces, which server and method it was. */
function tagErrors(target: string): Interceptor {
  return (next) => async (req) => {
    const site = { target, method: `${req.service.typeName}.${req.method.name}` };
    try {
      const res = await next(req);
      if (!res.stream) return res;
      const messages = res.message;
      return {
        ...res,
        message: (async function* () {
          try {
            yield* messages;
          } catch (err) {
            rememberCallSite(err, site);
            throw err;
          }
        })(),
      };
    } catch (err) {
      rememberCallSite(err, site);
      throw err;
    }
  };
}

/**
 * The CLI's retry policy, the SDK's rules (`unary`): only UNAVAILABLE, ABORTED and some
 * RESOURCE_EXHAUSTED, with jittered backoff, for at most this long in all.
 */
const RETRY_POLICY: CallPolicy = { timeoutMs: 30_000, retries: 4, idleTimeoutMs: 45_000 };

/** Reads: safe to send again after any retryable failure (others only after a rate limit). */
const IDEMPOTENT_METHOD = /^(Get|List)[A-Z]/;

/**
 * retrying retries unary calls by the SDK's policy (`unary`, `isRetryable`): Get/List calls on
 * every retryable failure, others only when the server refused them before acting (a rate
 * limit). Streams are never retried here. The last failure is thrown as the ConnectError it was.
 */
function retrying(): Interceptor {
  return (next) => async (req) => {
    if (req.stream) return next(req);
    try {
      return await unary(
        RETRY_POLICY,
        { idempotent: IDEMPOTENT_METHOD.test(req.method.name), signal: req.signal },
        () => next(req),
      );
    } catch (err) {
      throw err instanceof Error && err.cause !== undefined ? ConnectError.from(err.cause) : err;
    }
  };
}

/** transport makes a gRPC (HTTP/2) transport to baseUrl with the given headers. */
function transport(baseUrl: string, target: string, values: Record<string, string>): Transport {
  return createGrpcTransport({
    baseUrl,
    interceptors: [tagErrors(target), retrying(), headers(values)],
  });
}

/** requireKey returns the API key, or explains how to provide one. */
function requireKey(config: ResolvedConfig): string {
  if (!config.apiKey) {
    throw new CliError(
      "no API key is configured",
      "run `cove login --api-url URL --api-key KEY`, or set COVE_API_KEY",
    );
  }
  return config.apiKey;
}

/** createApiClients returns clients of the API server at config.apiUrl. */
export function createApiClients(config: ResolvedConfig): ApiClients {
  const t = transport(config.apiUrl, `the Cove API at ${config.apiUrl}`, {
    authorization: `Bearer ${requireKey(config)}`,
  });
  const make = <S extends DescService>(service: S) => createClient(service, t);
  return {
    sandboxes: make(SandboxService),
    snapshots: make(SnapshotService),
    volumes: make(VolumeService),
    organizations: make(OrganizationService),
    apiKeys: make(ApiKeyService),
    audit: make(AuditService),
  };
}

/** The API clients made for each context, so that a command's calls share one connection. */
const perContext = new WeakMap<Context, ApiClients>();

/** api returns the context's API clients, made on first use (needs an API key). */
export function api(ctx: Context): ApiClients {
  let clients = perContext.get(ctx);
  if (!clients) {
    clients = createApiClients(ctx.config());
    perContext.set(ctx, clients);
  }
  return clients;
}

/**
 * createProcessClient returns a ProcessService client for one sandbox through the proxy: the
 * configured proxy URL, else the sandbox's own toolbox_url.
 */
export function createProcessClient(
  config: ResolvedConfig,
  sandboxId: string,
  toolboxUrl: string,
): Client<typeof ProcessService> {
  const baseUrl = config.proxyUrl || toolboxUrl;
  if (!baseUrl) {
    throw new CliError(
      "the server named no proxy for this sandbox",
      "pass the proxy's URL with `cove login --proxy-url URL` or COVE_PROXY_URL",
    );
  }
  const t = transport(baseUrl, `the Cove proxy at ${baseUrl}`, {
    authorization: `Bearer ${requireKey(config)}`,
    [SANDBOX_ID_HEADER]: sandboxId,
  });
  return createClient(ProcessService, t);
}
