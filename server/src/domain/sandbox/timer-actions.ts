import { hasLiveCommand } from "../outbox/runner-commands.js";
import { SandboxCore } from "./core.js";
import type { SandboxStateName } from "./ports.js";
import { STATE_TABLE } from "./states.js";

/** SandboxTimerActions: see the file comment. */
export class SandboxTimerActions extends SandboxCore {
  // ---------------------------------------------------------------- used by the timers

  /** autoStop stops an idle STARTED sandbox (no wait). Ignores sandboxes that moved on. */
  async autoStop(sandboxId: string): Promise<void> {
    await this.stopNow({}, sandboxId, false, true);
  }

  /** autoDelete deletes a sandbox whose auto-delete interval passed (no wait). */
  async autoDelete(sandboxId: string): Promise<void> {
    await this.deleteNow({}, sandboxId);
  }

  /**
   * failStuck puts a sandbox that made no progress in a transitional state (and has no live
   * command) into ERROR with reason COMMAND_DEADLINE_EXCEEDED, recoverable.
   */
  async failStuck(sandboxId: string, olderThan: Date): Promise<boolean> {
    let failed = false;
    await this.mutate({}, sandboxId, async (row, trx) => {
      const rule = STATE_TABLE[row.state as SandboxStateName];
      if (rule.kind !== "transitional") return undefined;
      if (new Date(row.state_change_time).getTime() >= olderThan.getTime()) return undefined;
      if (await hasLiveCommand(trx, sandboxId)) return undefined;
      failed = true;
      return {
        change: {
          state: "ERROR",
          error: {
            reason: "COMMAND_DEADLINE_EXCEEDED",
            message: `no progress while ${row.state} since ${new Date(row.state_change_time).toISOString()} and no command is outstanding`,
            recoverable: true,
          },
        },
      };
    });
    return failed;
  }
}
