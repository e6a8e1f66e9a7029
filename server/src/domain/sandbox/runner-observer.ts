import { hasLiveCreate, newerCommandExists } from "../outbox/runner-commands.js";
import { defaultReason, reasonName, SandboxCore } from "./core.js";
import type {
  CommandOutcome,
  OutboxCommand,
  SandboxReportData,
  SandboxStateSink,
} from "./ports.js";
import { COMMAND_GOAL, PERMANENT_ERROR_REASONS } from "./states.js";

/** RunnerObserver: see the file comment. */
export class RunnerObserver extends SandboxCore implements SandboxStateSink {
  // ---------------------------------------------------------------- SandboxStateSink

  /** applyReport records what the sandbox's own runner observed (see observe for what is believed). */
  async applyReport(runnerId: string, report: SandboxReportData): Promise<void> {
    await this.mutate({}, report.sandboxId, async (row, trx) => {
      if (row.runner_id !== runnerId) return undefined;
      if (report.observeTime.getTime() < new Date(row.state_change_time).getTime())
        return undefined;
      return this.observe(row, trx, report);
    });
  }

  /**
   * applyCommandOutcome records a lifecycle command's result: success moves the sandbox to the
   * command's goal (STARTED also records the daemon socket path), failure to ERROR with the
   * runner's reason. Ignored for another runner's sandbox, a DESTROYED one, a command whose goal
   * is no longer the desired state, a command superseded by a newer one, and cancellations.
   */
  async applyCommandOutcome(command: OutboxCommand, outcome: CommandOutcome): Promise<void> {
    const goal = COMMAND_GOAL[command.kind];
    if (!command.sandboxId || !goal) return;
    await this.mutate({}, command.sandboxId, async (row, trx) => {
      if (row.runner_id !== command.runnerId || row.state === "DESTROYED") return undefined;
      if (row.desired_state !== goal) return undefined;
      // Lifecycle commands only: a network update does not supersede a create or a start.
      if (await newerCommandExists(trx, row.id, command.id, Object.keys(COMMAND_GOAL))) {
        return undefined;
      }
      if (outcome.ok) {
        const report = outcome.report;
        const columns: Record<string, unknown> = {};
        if (goal === "STARTED" && outcome.daemonSocketPath)
          columns.daemon_socket_path = outcome.daemonSocketPath;
        if (
          report &&
          report.state !== goal &&
          (report.state === "ERROR" || report.errorReason !== "")
        ) {
          if (row.state === "ERROR") return undefined;
          const reason = reasonName(report.errorReason, defaultReason(goal));
          return {
            change: {
              state: "ERROR",
              error: {
                reason,
                message: report.errorMessage || `${command.kind} ended in ${report.state}`,
                recoverable: !PERMANENT_ERROR_REASONS.has(reason),
              },
            },
            columns,
          };
        }
        if (row.state === goal && Object.keys(columns).length === 0) return undefined;
        return { change: row.state === goal ? undefined : { state: goal }, columns };
      }
      if (outcome.reason === "COMMAND_CANCELLED") return undefined;
      if (row.state === goal || row.state === "ERROR") return undefined;
      const reason = reasonName(outcome.reason, defaultReason(goal));
      return {
        change: {
          state: "ERROR",
          error: {
            reason,
            message: `${command.kind} failed: ${outcome.message || reason}`,
            recoverable: !PERMANENT_ERROR_REASONS.has(reason),
          },
        },
      };
    });
  }

  /**
   * reconcileInventory compares a runner's full inventory with the database. Rows in the
   * inventory get the report applied. Rows missing from it: DESTROYED when their desired state
   * is DESTROYED; left alone while a create or restore command for them is live, before any
   * container exists (PENDING_BUILD, BUILDING_SNAPSHOT, ARCHIVED) or when already in ERROR;
   * otherwise ERROR SANDBOX_EXITED ("container vanished", recoverable when desired STARTED).
   * Containers with no row, a DESTROYED row or another runner's row are returned as orphans.
   */
  async reconcileInventory(
    runnerId: string,
    inventory: SandboxReportData[],
  ): Promise<{ orphans: string[] }> {
    const present = new Map(
      inventory.filter((r) => r.state !== "DESTROYED").map((r) => [r.sandboxId, r] as const),
    );
    const rows: Array<{ id: string }> = await this.db("sandboxes")
      .where({ runner_id: runnerId })
      .whereNot("state", "DESTROYED")
      .select("id");
    for (const { id } of rows) {
      const report = present.get(id);
      try {
        if (report) await this.applyReport(runnerId, report);
        else await this.markVanished(runnerId, id);
      } catch (err) {
        this.logger.error("reconcile failed for a sandbox", { err, sandboxId: id, runnerId });
      }
    }
    const ids = [...present.keys()];
    const known: Array<{ id: string; state: string; runner_id: string | null }> =
      ids.length === 0
        ? []
        : await this.db("sandboxes").whereIn("id", ids).select("id", "state", "runner_id");
    const live = new Set(
      known.filter((r) => r.state !== "DESTROYED" && r.runner_id === runnerId).map((r) => r.id),
    );
    return { orphans: ids.filter((id) => !live.has(id)) };
  }

  protected async markVanished(runnerId: string, sandboxId: string): Promise<void> {
    await this.mutate({}, sandboxId, async (row, trx) => {
      if (row.runner_id !== runnerId || row.state === "DESTROYED") return undefined;
      if (row.desired_state === "DESTROYED") return { change: { state: "DESTROYED" } };
      if (["PENDING_BUILD", "BUILDING_SNAPSHOT", "ARCHIVED", "ERROR"].includes(row.state))
        return undefined;
      if (await hasLiveCreate(trx, sandboxId)) return undefined;
      return {
        change: {
          state: "ERROR",
          error: {
            reason: "SANDBOX_EXITED",
            message: `the sandbox's container vanished from runner ${runnerId}; its filesystem is lost`,
            recoverable: row.desired_state === "STARTED",
          },
        },
      };
    });
  }
}
