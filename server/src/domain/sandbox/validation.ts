/**
 * Validation and defaults for sandbox requests, per the comments in sandbox_service.proto:
 * resources (defaults, minimums, the organization's per-sandbox limits), env and label sizes,
 * OS user, network policy, auto-stop/archive/delete intervals, wait timeouts. Every bad field
 * is reported at once in one INVALID_ARGUMENT with a field violation each.
 */
import { isIP } from "node:net";
import {
  CoveError,
  type FieldViolation,
  notFound,
  parseImageReference,
  resourceExhausted,
} from "@cove/common";
import type { NetworkModeName, NetworkPolicyData, VolumeMountData } from "./rows.js";

/** A requested network policy; mode UNSPECIFIED means BLOCK_ALL. */
export interface NetworkPolicyInput {
  /** The mode's name. */
  mode: NetworkModeName | "UNSPECIFIED";
  /** CIDR ranges. */
  allowCidrs: string[];
  /** Name patterns. */
  allowDomains: string[];
}

/** Default CPU, millicores. */
export const DEFAULT_CPU_MILLICORES = 1000;
/** Default memory, MiB. */
export const DEFAULT_MEMORY_MIB = 1024;
/** Default disk, MiB. */
export const DEFAULT_DISK_MIB = 3072;
/** Default auto-stop: 15 minutes. */
export const DEFAULT_AUTO_STOP_SECONDS = 15 * 60;
/** Default auto-archive: 7 days. */
export const DEFAULT_AUTO_ARCHIVE_SECONDS = 7 * 24 * 3600;
/** Default OS user. */
export const DEFAULT_OS_USER = "cove";
/** Default wait timeout, ms. */
export const DEFAULT_WAIT_TIMEOUT_MS = 60_000;
/** Longest wait timeout, ms. */
export const MAX_WAIT_TIMEOUT_MS = 10 * 60_000;
/** Longest image reference, bytes (the name part is at most 255 characters by the grammar). */
export const MAX_IMAGE_BYTES = 1024;
/** Most labels on one sandbox. */
export const MAX_LABELS = 64;
/** Most environment variables, and their total size in bytes. */
export const MAX_ENV = { count: 256, bytes: 64 * 1024 } as const;
/** Most volumes, and the longest mount path in bytes. */
export const MAX_VOLUMES = { count: 16, mountPathBytes: 4096 } as const;
/** Environment names reserved for the daemon (the runner refuses them too). */
export const RESERVED_ENV_PREFIX = "COVE_DAEMON_";

const DAY_SECONDS = 24 * 3600;
const LABEL_KEY = /^[a-z0-9][a-z0-9._/-]{0,62}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const OS_USER = /^[a-z_][a-z0-9_-]{0,31}$/;
const RUNTIME_CLASS = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const REGION = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** Where a new sandbox's filesystem comes from. */
export type SandboxSource =
  | { kind: "default" }
  | { kind: "image"; image: string }
  | { kind: "snapshot"; snapshotId: string }
  | { kind: "buildSpec" };

/** CreateSandboxInput is CreateSandboxRequest in domain terms (durations in ms, undefined when unset). */
export interface CreateSandboxInput {
  /** Image, snapshot, build spec, or the server's default image. */
  source: SandboxSource;
  /** Requested resources; 0 takes the default. */
  resources: { cpuMillicores: number; memoryMib: number; diskMib: number };
  /** Environment. */
  env: Record<string, string>;
  /** Labels. */
  labels: Record<string, string>;
  /** OS user ("" = default). */
  osUser: string;
  /** Previews without a token. */
  public: boolean;
  /** Network policy; mode UNSPECIFIED means BLOCK_ALL. */
  networkPolicy: NetworkPolicyInput;
  /** Auto-stop interval, ms; undefined = default. */
  autoStopMs?: number;
  /** Auto-archive interval, ms; undefined = default. */
  autoArchiveMs?: number;
  /** Auto-delete interval, ms; undefined = never. */
  autoDeleteMs?: number;
  /** Volume mounts. */
  volumes: VolumeMountData[];
  /** Wait for STARTED (default true). */
  wait?: boolean;
  /** Wait timeout, ms; undefined = default. */
  waitTimeoutMs?: number;
  /** Idempotency key, "" for none. */
  idempotencyKey: string;
  /** Region, "" for any. */
  region: string;
  /** Runtime class, "" for the runner's default. */
  runtimeClass: string;
}

/** The organization's per-sandbox limits (columns of `organizations`). */
export interface SandboxLimits {
  /** Most CPU per sandbox. */
  max_sandbox_cpu_millicores: number;
  /** Most memory per sandbox. */
  max_sandbox_memory_mib: number;
  /** Most disk per sandbox. */
  max_sandbox_disk_mib: number;
}

/** A validated, defaulted create request: what gets stored. */
export interface ValidatedCreate {
  /** Image reference. */
  image: string;
  /** CPU. */
  cpuMillicores: number;
  /** Memory. */
  memoryMib: number;
  /** Disk. */
  diskMib: number;
  /** Environment. */
  env: Record<string, string>;
  /** Labels. */
  labels: Record<string, string>;
  /** OS user. */
  osUser: string;
  /** Public previews. */
  public: boolean;
  /** Network policy. */
  networkPolicy: NetworkPolicyData;
  /** Auto-stop, s. */
  autoStopSeconds: number;
  /** Auto-archive, s. */
  autoArchiveSeconds: number;
  /** Auto-delete, s. */
  autoDeleteSeconds: number;
  /** Requested region ("" = any). */
  region: string;
  /** Requested runtime class ("" = runner default). */
  runtimeClass: string;
  /** Idempotency key or null. */
  idempotencyKey: string | null;
  /** Wait for STARTED. */
  wait: boolean;
  /** Wait timeout, ms. */
  waitTimeoutMs: number;
}

/** Collects field violations and throws them together (the first 20 are listed). */
export class Violations {
  private readonly list: FieldViolation[] = [];
  private total = 0;

  /** add records one bad field. */
  add(field: string, description: string): void {
    this.total++;
    if (this.list.length < 20) this.list.push({ field, description });
  }

  /** throwIfAny throws INVALID_ARGUMENT INVALID_FIELD listing every violation. */
  throwIfAny(): void {
    const first = this.list[0];
    if (!first) return;
    const more = this.total > this.list.length ? `; and ${this.total - this.list.length} more` : "";
    const message = `${this.list.map((v) => `${v.field}: ${v.description}`).join("; ")}${more}`;
    throw new CoveError("invalidArgument", "INVALID_FIELD", message, { field: first.field }, [
      ...this.list,
    ]);
  }
}

/** validateLabels checks labels against the proto's limits. */
export function validateLabels(
  labels: Record<string, string>,
  violations: Violations,
  field = "labels",
): void {
  const entries = Object.entries(labels);
  if (entries.length > MAX_LABELS)
    violations.add(field, `at most ${MAX_LABELS} labels, got ${entries.length}`);
  for (const [key, value] of entries) {
    const at = `${field}.${key.slice(0, 64)}`;
    if (!LABEL_KEY.test(key))
      violations.add(
        at,
        "keys are 1-63 characters of [a-z0-9._/-] starting with a letter or digit",
      );
    else if (key.startsWith("cove.dev/"))
      violations.add(at, 'keys starting with "cove.dev/" are reserved');
    if ([...value].length > 255) violations.add(at, "values are at most 255 characters");
  }
}

/**
 * validateEnv checks environment variables: names, the reserved COVE_DAEMON_ prefix, count
 * (256) and total size (64 KiB).
 */
export function validateEnv(env: Record<string, string>, violations: Violations): void {
  const entries = Object.entries(env);
  if (entries.length > MAX_ENV.count)
    violations.add("env", `at most ${MAX_ENV.count} variables, got ${entries.length}`);
  let bytes = 0;
  for (const [name, value] of entries) {
    bytes += Buffer.byteLength(name) + Buffer.byteLength(value);
    const field = `env.${name.slice(0, 64)}`;
    if (!ENV_NAME.test(name)) violations.add(field, "names match [A-Za-z_][A-Za-z0-9_]*");
    else if (name.startsWith(RESERVED_ENV_PREFIX))
      violations.add(
        field,
        `names starting with ${RESERVED_ENV_PREFIX} are reserved for the daemon`,
      );
    if (value.includes("\0")) violations.add(field, "values must not contain NUL");
  }
  if (bytes > MAX_ENV.bytes)
    violations.add("env", `at most ${MAX_ENV.bytes / 1024} KiB in total, got ${bytes} bytes`);
}

/** Mount paths a volume may not use (the sandbox's own plumbing and kernel filesystems). */
const FORBIDDEN_MOUNT_ROOTS = ["/proc", "/sys", "/dev", "/run/cove", "/cove"];

/** validateVolumes checks volume mounts against the limits of VolumeMount in sandbox.proto. */
export function validateVolumes(volumes: VolumeMountData[], violations: Violations): void {
  if (volumes.length > MAX_VOLUMES.count) {
    violations.add("volumes", `at most ${MAX_VOLUMES.count} volumes`);
    return;
  }
  const paths: string[] = [];
  volumes.forEach((volume, i) => {
    const at = `volumes[${i}]`;
    if (volume.volumeId === "") violations.add(`${at}.volume_id`, "is required");
    const mount = volume.mountPath;
    const parts = mount.split("/");
    if (Buffer.byteLength(mount) > MAX_VOLUMES.mountPathBytes)
      violations.add(`${at}.mount_path`, `at most ${MAX_VOLUMES.mountPathBytes} bytes`);
    else if (
      !mount.startsWith("/") ||
      mount === "/" ||
      parts.some((p, j) => j > 0 && (p === "" || p === "." || p === ".."))
    )
      violations.add(
        `${at}.mount_path`,
        'must be an absolute path other than "/", without empty, "." or ".." parts',
      );
    else if (FORBIDDEN_MOUNT_ROOTS.some((root) => mount === root || mount.startsWith(`${root}/`)))
      violations.add(`${at}.mount_path`, `must not be under ${FORBIDDEN_MOUNT_ROOTS.join(", ")}`);
    else if (
      paths.some(
        (other) =>
          other === mount || other.startsWith(`${mount}/`) || mount.startsWith(`${other}/`),
      )
    )
      violations.add(`${at}.mount_path`, "must not overlap another volume's mount path");
    else paths.push(mount);
    const sub = volume.subPath;
    if (
      sub.startsWith("/") ||
      sub.split("/").includes("..") ||
      Buffer.byteLength(sub) > MAX_VOLUMES.mountPathBytes
    )
      violations.add(
        `${at}.sub_path`,
        'must be a relative path without ".." parts, at most 4096 bytes',
      );
  });
}

/**
 * intervalSeconds turns an interval in ms into whole seconds, checking it is whole minutes and
 * at most maxDays; undefined takes `fallback`.
 */
export function intervalSeconds(
  field: string,
  ms: number | undefined,
  fallback: number,
  maxDays: number,
  violations: Violations,
): number {
  if (ms === undefined) return fallback;
  if (ms < 0 || !Number.isFinite(ms)) {
    violations.add(field, "must not be negative");
    return fallback;
  }
  if (ms % 60_000 !== 0) violations.add(field, "must be whole minutes");
  if (ms > maxDays * DAY_SECONDS * 1000) violations.add(field, `at most ${maxDays} days`);
  return Math.floor(ms / 1000);
}

/** Interval bounds per field, in days. */
export const INTERVAL_MAX_DAYS = { autoStop: 30, autoArchive: 30, autoDelete: 365 } as const;

/** waitTimeoutMs validates a wait timeout (undefined takes `fallback`). */
export function waitTimeout(
  ms: number | undefined,
  fallback: number,
  violations: Violations,
  field = "wait_timeout",
): number {
  if (ms === undefined || ms === 0) return fallback;
  if (ms < 0) violations.add(field, "must not be negative");
  if (ms > MAX_WAIT_TIMEOUT_MS) violations.add(field, "at most 10 minutes");
  return Math.max(0, Math.min(ms, MAX_WAIT_TIMEOUT_MS));
}

/** isCidr says whether `text` is an IPv4 or IPv6 CIDR range. */
export function isCidr(text: string): boolean {
  const slash = text.indexOf("/");
  if (slash < 0) return false;
  const address = text.slice(0, slash);
  const bits = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(bits)) return false;
  const family = isIP(address);
  if (family === 0) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}

const DOMAIN_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i;

/** isDomainPattern accepts a host name, or "*." and a host name (at least two labels, ≤ 253). */
export function isDomainPattern(text: string): boolean {
  const name = text.startsWith("*.") ? text.slice(2) : text;
  if (name.length === 0 || name.length > 253 || isIP(name) !== 0) return false;
  const labels = name.split(".");
  return labels.length >= 2 && labels.every((l) => DOMAIN_LABEL.test(l));
}

/** validateNetwork checks a network policy against the rules in sandbox.proto. */
export function validateNetwork(
  policy: NetworkPolicyInput,
  violations: Violations,
): NetworkPolicyData {
  const mode: NetworkModeName = policy.mode === "UNSPECIFIED" ? "BLOCK_ALL" : policy.mode;
  const takesCidrs = mode === "ALLOW_LIST" || mode === "ALLOW_DOMAINS";
  if (takesCidrs) {
    if (mode === "ALLOW_LIST" && policy.allowCidrs.length === 0)
      violations.add("network_policy.allow_cidrs", "must not be empty with ALLOW_LIST");
    if (policy.allowCidrs.length > 64)
      violations.add("network_policy.allow_cidrs", "at most 64 entries");
    policy.allowCidrs.forEach((cidr, i) => {
      if (!isCidr(cidr))
        violations.add(
          `network_policy.allow_cidrs[${i}]`,
          "must be an IPv4 or IPv6 CIDR range such as 1.1.1.1/32 (host names are not accepted)",
        );
    });
  } else if (policy.allowCidrs.length > 0) {
    violations.add(
      "network_policy.allow_cidrs",
      "is used only with NETWORK_POLICY_MODE_ALLOW_LIST or NETWORK_POLICY_MODE_ALLOW_DOMAINS",
    );
  }
  if (mode === "ALLOW_DOMAINS") {
    if (policy.allowDomains.length === 0)
      violations.add("network_policy.allow_domains", "must not be empty with ALLOW_DOMAINS");
    if (policy.allowDomains.length > 64)
      violations.add("network_policy.allow_domains", "at most 64 entries");
    policy.allowDomains.forEach((name, i) => {
      if (!isDomainPattern(name))
        violations.add(
          `network_policy.allow_domains[${i}]`,
          'must be a host name such as pypi.org, or "*." and a host name (no IP addresses)',
        );
    });
  } else if (policy.allowDomains.length > 0) {
    violations.add(
      "network_policy.allow_domains",
      "is used only with NETWORK_POLICY_MODE_ALLOW_DOMAINS",
    );
  }
  return {
    mode,
    allowCidrs: takesCidrs ? [...policy.allowCidrs] : [],
    allowDomains: mode === "ALLOW_DOMAINS" ? policy.allowDomains.map((d) => d.toLowerCase()) : [],
  };
}

function resource(
  field: string,
  value: number,
  fallback: number,
  minimum: number,
  quota: keyof SandboxLimits,
  limits: SandboxLimits,
  violations: Violations,
): number {
  if (value < 0) {
    violations.add(field, "must not be negative");
    return fallback;
  }
  const actual = value === 0 ? fallback : value;
  if (actual < minimum) violations.add(field, `at least ${minimum}`);
  // Zero means no limit (cove.iam.v1.Quota), as UpdateQuota stores it.
  else if (limits[quota] > 0 && actual > limits[quota]) {
    throw resourceExhausted(
      "QUOTA_EXCEEDED",
      `${field} ${actual} is above the organization's per-sandbox limit ${limits[quota]}`,
      { quota, limit: String(limits[quota]), used: "0", requested: String(actual) },
    );
  }
  return actual;
}

/**
 * validateCreate checks a create request and fills in defaults. Snapshots and volumes do not
 * exist yet on this server: a snapshot_id returns NOT_FOUND SNAPSHOT_NOT_FOUND, a volume
 * NOT_FOUND VOLUME_NOT_FOUND, and a build_spec UNIMPLEMENTED.
 */
export function validateCreate(
  input: CreateSandboxInput,
  limits: SandboxLimits,
  defaultImage: string,
): ValidatedCreate {
  const v = new Violations();
  let image = defaultImage;
  switch (input.source.kind) {
    case "image": {
      image = input.source.image;
      if (Buffer.byteLength(image) > MAX_IMAGE_BYTES) {
        v.add("image", `at most ${MAX_IMAGE_BYTES} bytes`);
        break;
      }
      const parsed = parseImageReference(image);
      if (!parsed.ok)
        v.add(
          "image",
          `${parsed.error} (an image reference such as "python:3.12-slim" or "ghcr.io/org/app:v1")`,
        );
      break;
    }
    case "snapshot":
      if (input.source.snapshotId === "") v.add("snapshot_id", "must not be empty");
      v.throwIfAny();
      throw notFound(
        "SNAPSHOT_NOT_FOUND",
        `snapshot ${input.source.snapshotId} not found (this server has no snapshots yet; use image)`,
        { snapshotId: input.source.snapshotId },
      );
    case "buildSpec":
      throw new CoveError(
        "unimplemented",
        "INVALID_FIELD",
        "build_spec is not supported yet; use image",
        { field: "build_spec" },
      );
    case "default":
      break;
  }
  const cpuMillicores = resource(
    "resources.cpu_millicores",
    input.resources.cpuMillicores,
    DEFAULT_CPU_MILLICORES,
    250,
    "max_sandbox_cpu_millicores",
    limits,
    v,
  );
  const memoryMib = resource(
    "resources.memory_mib",
    input.resources.memoryMib,
    DEFAULT_MEMORY_MIB,
    128,
    "max_sandbox_memory_mib",
    limits,
    v,
  );
  const diskMib = resource(
    "resources.disk_mib",
    input.resources.diskMib,
    DEFAULT_DISK_MIB,
    512,
    "max_sandbox_disk_mib",
    limits,
    v,
  );
  validateEnv(input.env, v);
  validateLabels(input.labels, v);
  const osUser = input.osUser === "" ? DEFAULT_OS_USER : input.osUser;
  if (!OS_USER.test(osUser))
    v.add("os_user", "must be a user name: [a-z_][a-z0-9_-]*, at most 32 characters");
  const networkPolicy = validateNetwork(input.networkPolicy, v);
  const autoStopSeconds = intervalSeconds(
    "auto_stop_interval",
    input.autoStopMs,
    DEFAULT_AUTO_STOP_SECONDS,
    INTERVAL_MAX_DAYS.autoStop,
    v,
  );
  const autoArchiveSeconds = intervalSeconds(
    "auto_archive_interval",
    input.autoArchiveMs,
    DEFAULT_AUTO_ARCHIVE_SECONDS,
    INTERVAL_MAX_DAYS.autoArchive,
    v,
  );
  const autoDeleteSeconds = intervalSeconds(
    "auto_delete_interval",
    input.autoDeleteMs,
    0,
    INTERVAL_MAX_DAYS.autoDelete,
    v,
  );
  validateVolumes(input.volumes, v);
  const waitTimeoutMs = waitTimeout(input.waitTimeoutMs, DEFAULT_WAIT_TIMEOUT_MS, v);
  if ([...input.idempotencyKey].length > 128) v.add("idempotency_key", "at most 128 characters");
  if (input.region !== "" && !REGION.test(input.region))
    v.add("region", "1-63 characters of [a-z0-9._-]");
  if (input.runtimeClass !== "" && !RUNTIME_CLASS.test(input.runtimeClass))
    v.add("runtime_class", 'a runtime name such as "runc" or "runsc"');
  v.throwIfAny();
  const firstVolume = input.volumes[0];
  if (firstVolume) {
    throw notFound(
      "VOLUME_NOT_FOUND",
      `volume ${firstVolume.volumeId} not found (this server has no volumes yet)`,
      { volumeId: firstVolume.volumeId },
    );
  }
  return {
    image,
    cpuMillicores,
    memoryMib,
    diskMib,
    env: { ...input.env },
    labels: { ...input.labels },
    osUser,
    public: input.public,
    networkPolicy,
    autoStopSeconds,
    autoArchiveSeconds,
    autoDeleteSeconds,
    region: input.region,
    // "gvisor" is the friendlier name of runsc.
    runtimeClass: input.runtimeClass === "gvisor" ? "runsc" : input.runtimeClass,
    idempotencyKey: input.idempotencyKey === "" ? null : input.idempotencyKey,
    wait: input.wait ?? true,
    waitTimeoutMs,
  };
}
