/**
 * SandboxManager wires the sandbox lifecycle's parts, one per caller, over the same
 * dependencies: `lifecycle` (SandboxService calls, for the API handler), `access` (preview
 * URLs, SSH access, sandbox tokens), `observer` (the SandboxStateSink the runner hub calls) and
 * `timerActions` (what the timers do). What they share is SandboxCore (core.ts). The sink and
 * timer methods are also here, so one object can stand for the whole lifecycle in wiring.
 */

import { SandboxAccess } from "./access.js";
import type { SandboxManagerDeps, SandboxManagerOptions } from "./core.js";
import { SandboxLifecycle } from "./lifecycle.js";
import type {
  CommandOutcome,
  OutboxCommand,
  SandboxReportData,
  SandboxStateSink,
} from "./ports.js";
import { RunnerObserver } from "./runner-observer.js";
import { SandboxTimerActions } from "./timer-actions.js";

export type {
  ListSandboxesQuery,
  PreviewUrlResult,
  SandboxManagerDeps,
  SandboxManagerOptions,
  SandboxTokenResult,
  SshAccessResult,
  UpdateSandboxInput,
  WaitOptions,
  WatchEvent,
} from "./core.js";
export { reasonName, sandboxError } from "./core.js";

/** SandboxManager: the lifecycle's parts, wired (see the file comment). */
export class SandboxManager implements SandboxStateSink {
  /** SandboxService's lifecycle calls (the API handler). */
  readonly lifecycle: SandboxLifecycle;
  /** Preview URLs, SSH access and sandbox tokens (the API handler). */
  readonly access: SandboxAccess;
  /** Runner reports, command outcomes and inventories (the runner hub). */
  readonly observer: RunnerObserver;
  /** Auto stop, auto delete, stuck transitions (the timers). */
  readonly timerActions: SandboxTimerActions;

  constructor(deps: SandboxManagerDeps) {
    this.lifecycle = new SandboxLifecycle(deps);
    this.access = new SandboxAccess(deps);
    this.observer = new RunnerObserver(deps);
    this.timerActions = new SandboxTimerActions(deps);
  }

  /** The effective options. */
  get options(): SandboxManagerOptions {
    return this.lifecycle.options;
  }

  /** See RunnerObserver.applyReport. */
  applyReport(runnerId: string, report: SandboxReportData): Promise<void> {
    return this.observer.applyReport(runnerId, report);
  }

  /** See RunnerObserver.applyCommandOutcome. */
  applyCommandOutcome(command: OutboxCommand, outcome: CommandOutcome): Promise<void> {
    return this.observer.applyCommandOutcome(command, outcome);
  }

  /** See RunnerObserver.reconcileInventory. */
  reconcileInventory(
    runnerId: string,
    inventory: SandboxReportData[],
  ): Promise<{ orphans: string[] }> {
    return this.observer.reconcileInventory(runnerId, inventory);
  }

  /** See SandboxTimerActions.autoStop. */
  autoStop(sandboxId: string): Promise<void> {
    return this.timerActions.autoStop(sandboxId);
  }

  /** See SandboxTimerActions.autoDelete. */
  autoDelete(sandboxId: string): Promise<void> {
    return this.timerActions.autoDelete(sandboxId);
  }

  /** See SandboxTimerActions.failStuck. */
  failStuck(sandboxId: string, olderThan: Date): Promise<boolean> {
    return this.timerActions.failStuck(sandboxId, olderThan);
  }
}
