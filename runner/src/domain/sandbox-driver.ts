import type { EgressPolicy } from "../network/egress-policy.js";

/** What a runner is asked to create: the runner-side view of cove.runner.v1.SandboxSpec. */
export interface SandboxSpec {
  /** Sandbox id; also the container name, so every command on it is idempotent. */
  sandboxId: string;
  /** Owning organization (a label on the container). */
  organizationId: string;
  /** Image reference, e.g. cove/sandbox:0.1.0-abc123. */
  image: string;
  /** CPU in millicores (1000 = one core); 0 = no limit. */
  cpuMillicores: number;
  /** Memory in MiB; swap is set equal (no extra swap); 0 = no limit. */
  memoryMib: number;
  /** Disk in MiB where the storage driver can enforce it; 0 = none. */
  diskMib: number;
  /** Environment for user code (the daemon itself never sees it). */
  env: Record<string, string>;
  /** User labels (stored as container labels under dev.cove.label.*). */
  labels: Record<string, string>;
  /** OS user that user code runs as by default ("" = the image's default, "root" allowed). */
  osUser: string;
  /**
   * How the container is created: "none" (no interface; the default, and what every sandbox
   * gets when the runner enforces `egress`), "all" (the legacy cove-egress bridge, for a driver
   * used without the network hooks).
   */
  network: "none" | "all";
  /** The outbound policy the network hooks enforce (absent: block all). */
  egress?: EgressPolicy;
  /** OCI runtime: "" for the runner's default, "runc" or "runsc". */
  runtime: string;
  /** Volumes to mount (absent or empty: none). */
  volumes?: VolumeMountSpec[];
}

/** One volume mounted into a sandbox (cove.sandbox.v1.VolumeMount). */
export interface VolumeMountSpec {
  /** The volume's id; its data lives on this runner. */
  volumeId: string;
  /** Absolute path inside the sandbox. */
  mountPath: string;
  /** Mount read-only. */
  readOnly: boolean;
  /** A directory within the volume to mount instead of its root ("" = the root). */
  subPath: string;
}

/** The state of a sandbox as the Docker engine shows it. */
export type ObservedState = "created" | "started" | "stopped" | "missing" | "error";

/** One sandbox as observed on this host. */
export interface SandboxObservation {
  /** Sandbox id. */
  sandboxId: string;
  /** Observed state. */
  state: ObservedState;
  /** Why it is in "error" or stopped unexpectedly: "OUT_OF_MEMORY", "SANDBOX_EXITED", … (an ErrorReason name), or "". */
  errorReason: string;
  /** A human-readable explanation for errorReason, e.g. "the daemon exited with code 1: …". */
  errorMessage: string;
  /** The image's digest or id. */
  imageDigest: string;
  /** The host path of the daemon's unix socket. */
  daemonSocketPath: string;
}

/**
 * SandboxDriver turns sandbox specs into running sandboxes on one host. Every method is
 * idempotent by sandbox id: applying the same command twice leaves the same state, and
 * stopping or destroying a missing sandbox is not an error.
 */
export interface SandboxDriver {
  /** create makes the sandbox (container, socket directory) if it does not exist yet; does not start it. */
  create(spec: SandboxSpec): Promise<SandboxObservation>;
  /** start starts it and resolves once its daemon answers health on its socket (STARTED). */
  start(sandboxId: string): Promise<SandboxObservation>;
  /** stop stops it, giving processes `graceMs` after SIGTERM. */
  stop(sandboxId: string, graceMs: number): Promise<SandboxObservation>;
  /** destroy removes the container and everything the runner kept for it. */
  destroy(sandboxId: string): Promise<SandboxObservation>;
  /** inspect observes one sandbox ("missing" when there is none). */
  inspect(sandboxId: string): Promise<SandboxObservation>;
  /** list observes every sandbox this runner manages on the host (its inventory). */
  list(): Promise<SandboxObservation[]>;
  /** socketPath is where the sandbox's daemon socket lives on the host. */
  socketPath(sandboxId: string): string;
  /** runtimes lists the OCI runtimes available here ("runc", and "runsc" when installed). */
  runtimes(): Promise<string[]>;
}
