import * as os from "node:os";
import * as path from "node:path";
import { type ListenOptions, listenTimeoutsFromEnv } from "@cove/common";
import { parsePublicImages } from "./domain/sandbox/image-policy.js";

/** Everything the API server needs to know at start-up. */
export interface ServerConfig {
  /** Where the API listens (Connect, gRPC and gRPC-Web on one port). Default 127.0.0.1:3000. */
  listen: { host: string; port: number };
  /** Postgres URL; unset starts an embedded Postgres under dataDir. */
  databaseUrl: string | undefined;
  /** Port of the embedded Postgres. Default 54329. */
  embeddedPostgresPort: number;
  /** Redis URL; unset uses in-process shared state (single node). */
  redisUrl: string | undefined;
  /** Cove's data folder: embedded Postgres, the admin key, tokens. Default defaultDataDir(). */
  dataDir: string;
  /** Shared token runners register with (runner ids come from their hello). */
  runnerRegistrationToken: string | undefined;
  /** The proxy's service token for EdgeService. */
  proxyToken: string | undefined;
  /** Image for sandboxes created with no image. */
  defaultImage: string;
  /**
   * Further images every organization may use (COVE_PUBLIC_IMAGES; see domain/sandbox/image-policy.ts:
   * "python:3.12-slim", "python:*", "name@sha256:…"). Default none: only defaultImage.
   */
  publicImages?: readonly string[];
  /**
   * Calls per organization per 10 s (reads, writes) and failed logins per client address per
   * minute; unset fields keep the defaults (1000, 100, 20).
   */
  rateLimits: { reads?: number; writes?: number; authFailures?: number };
  /** Browser origins allowed to call the API (CORS): a list, or "*" (the default). */
  corsOrigins: readonly string[] | "*";
  /** The proxy's public addresses, for URLs handed to users. */
  urls: { toolboxUrl: string; previewUrlTemplate: string; sshHost: string; sshPort: number };
  /** Headers and idle timeouts of the listener; unset keeps the defaults (30 s, 5 min). */
  listenTimeouts?: Pick<ListenOptions, "headersTimeoutMs" | "idleTimeoutMs">;
}

/**
 * defaultDataDir is ~/.cove, or /var/lib/cove for root: the embedded Postgres runs as its own
 * unprivileged user, which cannot enter root's home.
 */
export function defaultDataDir(): string {
  return process.getuid?.() === 0 ? "/var/lib/cove" : path.join(os.homedir(), ".cove");
}

/**
 * loadServerConfig reads COVE_* variables: COVE_API_HOST/COVE_API_PORT, DATABASE_URL,
 * COVE_EMBEDDED_POSTGRES_PORT, REDIS_URL, COVE_DATA_DIR, COVE_RUNNER_REGISTRATION_TOKEN,
 * COVE_PROXY_TOKEN, COVE_DEFAULT_IMAGE, COVE_PUBLIC_IMAGES, COVE_PROXY_URL, COVE_PREVIEW_URL_TEMPLATE,
 * COVE_SSH_HOST, COVE_SSH_PORT, COVE_CORS_ORIGINS, COVE_RATE_LIMIT_READS, COVE_RATE_LIMIT_WRITES,
 * COVE_RATE_LIMIT_AUTH_FAILURES, COVE_HEADERS_TIMEOUT_MS, COVE_IDLE_TIMEOUT_MS.
 */
export function loadServerConfig(env: NodeJS.ProcessEnv): ServerConfig {
  const proxyUrl = env.COVE_PROXY_URL ?? "http://localhost:4000";
  return {
    listen: { host: env.COVE_API_HOST ?? "127.0.0.1", port: Number(env.COVE_API_PORT ?? 3000) },
    databaseUrl: env.DATABASE_URL || undefined,
    embeddedPostgresPort: Number(env.COVE_EMBEDDED_POSTGRES_PORT ?? 54329),
    redisUrl: env.REDIS_URL || undefined,
    dataDir: path.resolve(env.COVE_DATA_DIR ?? defaultDataDir()),
    runnerRegistrationToken: env.COVE_RUNNER_REGISTRATION_TOKEN || undefined,
    proxyToken: env.COVE_PROXY_TOKEN || undefined,
    defaultImage: env.COVE_DEFAULT_IMAGE ?? "cove/sandbox:latest",
    publicImages: parsePublicImages(env.COVE_PUBLIC_IMAGES),
    corsOrigins: parseOrigins(env.COVE_CORS_ORIGINS),
    rateLimits: {
      reads: positive(env.COVE_RATE_LIMIT_READS, "COVE_RATE_LIMIT_READS"),
      writes: positive(env.COVE_RATE_LIMIT_WRITES, "COVE_RATE_LIMIT_WRITES"),
      authFailures: positive(env.COVE_RATE_LIMIT_AUTH_FAILURES, "COVE_RATE_LIMIT_AUTH_FAILURES"),
    },
    urls: {
      toolboxUrl: proxyUrl,
      previewUrlTemplate:
        env.COVE_PREVIEW_URL_TEMPLATE ??
        `${proxyUrl.replace("://", "://{port}-{sandboxId}.preview.")}`,
      sshHost: env.COVE_SSH_HOST ?? "localhost",
      sshPort: Number(env.COVE_SSH_PORT ?? 2222),
    },
    listenTimeouts: listenTimeoutsFromEnv(env),
  };
}

/** parseOrigins reads a comma-separated origin list; unset or "*" allows any origin. */
export function parseOrigins(value: string | undefined): readonly string[] | "*" {
  if (!value || value.trim() === "*") return "*";
  return value
    .split(",")
    .map((o) => o.trim())
    .filter(Boolean);
}

/** positive reads an optional positive integer variable; anything else is a start-up error. */
function positive(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === "") return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0)
    throw new Error(`${name} must be a positive whole number, not "${value}"`);
  return n;
}
