/**
 * The seam between the sandbox lifecycle (SandboxManager) and the runner side (RunnerHub):
 * the lifecycle writes commands to the outbox and calls CommandDispatcher.notify; the hub
 * delivers them and feeds what runners say back through SandboxStateSink.
 */

/** A sandbox state as stored in the database: a cove.sandbox.v1.SandboxState name without prefix. */
export type SandboxStateName =
  | "PENDING_BUILD"
  | "BUILDING_SNAPSHOT"
  | "PULLING_SNAPSHOT"
  | "CREATING"
  | "STARTING"
  | "STARTED"
  | "STOPPING"
  | "STOPPED"
  | "ARCHIVING"
  | "ARCHIVED"
  | "RESTORING"
  | "DESTROYING"
  | "DESTROYED"
  | "ERROR";

/** What a runner observed about one sandbox. */
export interface SandboxReportData {
  /** Sandbox id. */
  sandboxId: string;
  /** Observed state. */
  state: SandboxStateName;
  /** ErrorReason name without prefix, or "". */
  errorReason: string;
  /** Human-readable detail, or "". */
  errorMessage: string;
  /** When the runner observed it. */
  observeTime: Date;
}

/** How a runner command ended. */
export type CommandOutcome =
  | { ok: true; report: SandboxReportData | undefined; daemonSocketPath: string }
  | { ok: false; reason: string; message: string; retryable: boolean };

/** A command as the outbox stores it. */
export interface OutboxCommand {
  /** Command id. */
  id: string;
  /** The runner it is for. */
  runnerId: string;
  /** The sandbox it concerns, if any. */
  sandboxId: string | null;
  /** The RunnerCommand oneof case, e.g. "createSandbox". */
  kind: string;
}

/** SandboxStateSink is implemented by the lifecycle and called by the runner hub. */
export interface SandboxStateSink {
  /** applyReport records an observed state (ignored when older than what is stored, or for another runner's sandbox). */
  applyReport(runnerId: string, report: SandboxReportData): Promise<void>;
  /** applyCommandOutcome records a command's result (success or failure) on its sandbox. */
  applyCommandOutcome(command: OutboxCommand, outcome: CommandOutcome): Promise<void>;
  /**
   * reconcileInventory compares a runner's full inventory (sent on every connect) with the
   * database: rows whose container vanished go to ERROR with a reason; containers with no
   * live row are returned as orphans (the hub destroys them after a grace period).
   */
  reconcileInventory(
    runnerId: string,
    inventory: SandboxReportData[],
  ): Promise<{ orphans: string[] }>;
}

/** CommandDispatcher is implemented by the runner hub and called after an outbox write commits. */
export interface CommandDispatcher {
  /** notify says the runner has new commands in the outbox (delivery also polls, so this is a hint). */
  notify(runnerId: string): void;
}
