/**
 * The sandbox as the domain sees it, and its mapping to and from rows of the `sandboxes`
 * table. Environment values are write-only: they live in the row (the runner needs them) but
 * never leave the server through the API or the event bus.
 */
import type { SandboxStateName } from "./ports.js";
import type { DesiredStateName } from "./states.js";

/** Outbound network access: the NetworkPolicyMode name without prefix. */
export type NetworkModeName =
  | "BLOCK_ALL"
  | "ALLOW_LIST"
  | "ALLOW_ALL"
  | "ALLOW_PUBLIC"
  | "ALLOW_DOMAINS";

/** A sandbox's outbound network access. */
export interface NetworkPolicyData {
  /** The mode. */
  mode: NetworkModeName;
  /** CIDRs for ALLOW_LIST (and optionally ALLOW_DOMAINS). */
  allowCidrs: string[];
  /** Name patterns for ALLOW_DOMAINS. */
  allowDomains: string[];
}

/** A volume mount as stored. */
export interface VolumeMountData {
  /** The volume. */
  volumeId: string;
  /** Absolute path in the sandbox. */
  mountPath: string;
  /** Read-only mount. */
  readOnly: boolean;
  /** Directory within the volume. */
  subPath: string;
}

/** Sandbox is one sandbox as the domain and the API see it (no environment values). */
export interface Sandbox {
  /** 20 lowercase alphanumerics. */
  id: string;
  /** Owner. */
  organizationId: string;
  /** The runner holding it, or null when never placed. */
  runnerId: string | null;
  /** Image reference. */
  image: string;
  /** Snapshot id, or "" (image sandboxes get no snapshot yet). */
  snapshotId: string;
  /** Actual state. */
  state: SandboxStateName;
  /** The state the server drives it towards. */
  desiredState: DesiredStateName;
  /** ErrorReason name (no prefix) when state is ERROR, else "". */
  errorReason: string;
  /** Why, in words, when state is ERROR. */
  errorMessage: string;
  /** RecoverSandbox may help. */
  recoverable: boolean;
  /** User labels. */
  labels: Record<string, string>;
  /** OS user for toolbox, PTY and SSH. */
  osUser: string;
  /** Previews need no token. */
  public: boolean;
  /** CPU limit. */
  cpuMillicores: number;
  /** Memory limit. */
  memoryMib: number;
  /** Disk limit. */
  diskMib: number;
  /** Outbound network access. */
  networkPolicy: NetworkPolicyData;
  /** Auto-stop after this long idle; 0 = never. */
  autoStopSeconds: number;
  /** Auto-archive after this long STOPPED; 0 = never. */
  autoArchiveSeconds: number;
  /** Auto-delete after this long STOPPED/ARCHIVED; 0 = never. */
  autoDeleteSeconds: number;
  /** Volume mounts. */
  volumes: VolumeMountData[];
  /** Region of its runner. */
  region: string;
  /** OCI runtime. */
  runtimeClass: string;
  /** Host path of the daemon socket, when known. */
  daemonSocketPath: string;
  /** Incremented on every change; orders events. */
  version: number;
  /** Created. */
  createTime: Date;
  /** Last change of the record. */
  updateTime: Date;
  /** Last change of state. */
  stateChangeTime: Date;
  /** Last activity (auto-stop clock). */
  lastActivityTime: Date;
  /** When it became DESTROYED. */
  destroyTime: Date | null;
}

/** A row of `sandboxes` as knex returns it. */
export interface SandboxRow {
  id: string;
  organization_id: string;
  runner_id: string | null;
  image: string;
  snapshot_id: string | null;
  state: string;
  desired_state: string;
  error_reason: string;
  error_message: string;
  recoverable: boolean;
  labels: Record<string, string>;
  env: Record<string, string>;
  os_user: string;
  public: boolean;
  cpu_millicores: number;
  memory_mib: number;
  disk_mib: number;
  network_policy: Partial<NetworkPolicyData>;
  auto_stop_seconds: number;
  auto_archive_seconds: number;
  auto_delete_seconds: number;
  volumes: VolumeMountData[];
  region: string;
  runtime_class: string;
  idempotency_key: string | null;
  daemon_socket_path: string;
  version: number;
  create_time: Date;
  update_time: Date;
  state_change_time: Date;
  last_activity_time: Date;
  destroy_time: Date | null;
}

/** rowToSandbox maps a row to the domain sandbox (dropping env). */
export function rowToSandbox(row: SandboxRow): Sandbox {
  return {
    id: row.id,
    organizationId: row.organization_id,
    runnerId: row.runner_id,
    image: row.image,
    snapshotId: row.snapshot_id ?? "",
    state: row.state as SandboxStateName,
    desiredState: row.desired_state as DesiredStateName,
    errorReason: row.error_reason,
    errorMessage: row.error_message,
    recoverable: row.recoverable,
    labels: row.labels ?? {},
    osUser: row.os_user,
    public: row.public,
    cpuMillicores: row.cpu_millicores,
    memoryMib: row.memory_mib,
    diskMib: row.disk_mib,
    networkPolicy: {
      mode: row.network_policy?.mode ?? "BLOCK_ALL",
      allowCidrs: row.network_policy?.allowCidrs ?? [],
      allowDomains: row.network_policy?.allowDomains ?? [],
    },
    autoStopSeconds: row.auto_stop_seconds,
    autoArchiveSeconds: row.auto_archive_seconds,
    autoDeleteSeconds: row.auto_delete_seconds,
    volumes: row.volumes ?? [],
    region: row.region,
    runtimeClass: row.runtime_class,
    daemonSocketPath: row.daemon_socket_path,
    version: row.version,
    createTime: new Date(row.create_time),
    updateTime: new Date(row.update_time),
    stateChangeTime: new Date(row.state_change_time),
    lastActivityTime: new Date(row.last_activity_time),
    destroyTime: row.destroy_time ? new Date(row.destroy_time) : null,
  };
}

/** Sandbox in JSON form (dates as ISO strings), as it travels on the event bus. */
export type SandboxJson = Omit<
  Sandbox,
  "createTime" | "updateTime" | "stateChangeTime" | "lastActivityTime" | "destroyTime"
> & {
  createTime: string;
  updateTime: string;
  stateChangeTime: string;
  lastActivityTime: string;
  destroyTime: string | null;
};

/** sandboxToJson prepares a sandbox for the event bus. */
export function sandboxToJson(sandbox: Sandbox): SandboxJson {
  return {
    ...sandbox,
    createTime: sandbox.createTime.toISOString(),
    updateTime: sandbox.updateTime.toISOString(),
    stateChangeTime: sandbox.stateChangeTime.toISOString(),
    lastActivityTime: sandbox.lastActivityTime.toISOString(),
    destroyTime: sandbox.destroyTime ? sandbox.destroyTime.toISOString() : null,
  };
}

/** sandboxFromJson revives a sandbox received from the event bus. */
export function sandboxFromJson(json: SandboxJson): Sandbox {
  return {
    ...json,
    createTime: new Date(json.createTime),
    updateTime: new Date(json.updateTime),
    stateChangeTime: new Date(json.stateChangeTime),
    lastActivityTime: new Date(json.lastActivityTime),
    destroyTime: json.destroyTime ? new Date(json.destroyTime) : null,
  };
}

/** The columns every state change writes, from a partial update. */
export interface StateChange {
  /** New state. */
  state: SandboxStateName;
  /** New desired state (unchanged when omitted). */
  desiredState?: DesiredStateName;
  /** ERROR details; cleared when the new state is not ERROR. */
  error?: { reason: string; message: string; recoverable: boolean };
  /** When the state changed (default now). */
  stateChangeTime?: Date;
}

/** stateChangeColumns turns a StateChange into the row's columns (bumping version). */
export function stateChangeColumns(
  change: StateChange,
  now: Date,
  currentVersion: number,
): Record<string, unknown> {
  const columns: Record<string, unknown> = {
    state: change.state,
    error_reason: change.state === "ERROR" ? (change.error?.reason ?? "INTERNAL") : "",
    error_message: change.state === "ERROR" ? (change.error?.message ?? "").slice(0, 1024) : "",
    recoverable: change.state === "ERROR" ? (change.error?.recoverable ?? false) : false,
    state_change_time: change.stateChangeTime ?? now,
    update_time: now,
    version: currentVersion + 1,
  };
  if (change.desiredState) columns.desired_state = change.desiredState;
  if (change.state === "DESTROYED") columns.destroy_time = now;
  return columns;
}
