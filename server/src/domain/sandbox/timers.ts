/**
 * The lifecycle's timers, swept in one loop: commands stuck past their deadline fail (and
 * their sandbox goes to ERROR with reason COMMAND_DEADLINE_EXCEEDED), idle STARTED sandboxes
 * are stopped (auto-stop, from last_activity_time), STOPPED ones are deleted (auto-delete,
 * from state_change_time), sandboxes stuck in a transitional state with no live command go to
 * ERROR, and DESTROYED records are purged after their retention. Only one replica sweeps at a
 * time (a LockManager lock); a replica that does not get the lock skips the round.
 * Auto-archive is not done: runners cannot archive yet.
 */
import type { Logger } from "@cove/common";
import type { Knex } from "knex";
import type { LockManager } from "../../shared/shared-state.js";
import { finishCommand, overdueCommands, whereNoLiveCommand } from "../outbox/runner-commands.js";
import type { SandboxManager } from "./manager.js";

/** Tunables of the sweep. */
export interface SandboxTimerOptions {
  /** Time between sweeps, ms. Default 5 s. */
  intervalMs: number;
  /** A transitional state with no live command for this long goes to ERROR, ms. Default 10 min. */
  stuckTransitionMs: number;
  /** DESTROYED records are purged after this long, ms. Default 7 days. */
  destroyedRetentionMs: number;
  /** At most this many sandboxes or commands per kind of work per sweep. Default 100. */
  batchSize: number;
}

/** What one sweep did. */
export interface SweepResult {
  /** Commands failed for passing their deadline. */
  expiredCommands: number;
  /** Sandboxes auto-stopped. */
  autoStopped: number;
  /** Sandboxes auto-deleted. */
  autoDeleted: number;
  /** Sandboxes put into ERROR for making no progress. */
  stuck: number;
  /** DESTROYED records purged. */
  purged: number;
}

/** The lock that keeps sweeps to one replica at a time. */
export const SWEEP_LOCK = "cove.sandbox-timers";

const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => silentLogger,
};

/** SandboxTimers runs the lifecycle's timers; start() begins the loop, stop() ends it. */
export class SandboxTimers {
  /** The effective options. */
  readonly options: SandboxTimerOptions;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private readonly logger: Logger;

  constructor(
    private readonly deps: {
      db: Knex;
      locks: LockManager;
      manager: Pick<
        SandboxManager,
        "applyCommandOutcome" | "autoStop" | "autoDelete" | "failStuck"
      >;
      logger?: Logger;
      options?: Partial<SandboxTimerOptions>;
    },
  ) {
    this.logger = deps.logger ?? silentLogger;
    this.options = {
      intervalMs: 5_000,
      stuckTransitionMs: 10 * 60_000,
      destroyedRetentionMs: 7 * 24 * 3_600_000,
      batchSize: 100,
      ...Object.fromEntries(Object.entries(deps.options ?? {}).filter(([, v]) => v !== undefined)),
    };
  }

  /** start sweeps every intervalMs until stop(). Calling it twice is harmless. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.sweep()
        .catch((err) => this.logger.error("sandbox timer sweep failed", { err }))
        .finally(() => {
          this.running = undefined;
        });
    }, this.options.intervalMs);
    this.timer.unref();
  }

  /** stop ends the loop and waits for a sweep in progress. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** sweep runs one round now; undefined when another replica holds the sweep lock. */
  async sweep(now = new Date()): Promise<SweepResult | undefined> {
    const lock = await this.deps.locks.acquire(
      SWEEP_LOCK,
      Math.max(60_000, this.options.intervalMs * 4),
      0,
    );
    if (!lock) return undefined;
    try {
      return {
        expiredCommands: await this.expireCommands(now),
        autoStopped: await this.autoStop(now),
        autoDeleted: await this.autoDelete(now),
        stuck: await this.failStuck(now),
        purged: await this.purge(now),
      };
    } finally {
      await lock.release();
    }
  }

  private async each(
    ids: string[],
    work: (id: string) => Promise<boolean | undefined>,
  ): Promise<number> {
    let done = 0;
    for (const id of ids) {
      try {
        if ((await work(id)) !== false) done++;
      } catch (err) {
        this.logger.error("sandbox timer failed for one item", { err, id });
      }
    }
    return done;
  }

  /** Commands PENDING/SENT/ACKED past deadline_time → FAILED COMMAND_DEADLINE_EXCEEDED, sandbox → ERROR. */
  private async expireCommands(now: Date): Promise<number> {
    const { db, manager } = this.deps;
    const rows = await overdueCommands(db, now, this.options.batchSize);
    const byId = new Map(rows.map((r) => [r.id, r]));
    return this.each([...byId.keys()], async (id) => {
      const row = byId.get(id);
      if (!row) return false;
      const message = `runner ${row.runner_id} did not finish ${row.kind} by its deadline ${new Date(row.deadline_time).toISOString()}`;
      const updated = await finishCommand(
        db,
        id,
        { ok: false, reason: "COMMAND_DEADLINE_EXCEEDED", message },
        now,
      );
      if (updated === 0) return false; // finished meanwhile
      this.logger.warn("runner command passed its deadline", {
        commandId: id,
        runnerId: row.runner_id,
        sandboxId: row.sandbox_id,
        kind: row.kind,
      });
      await manager.applyCommandOutcome(
        { id, runnerId: row.runner_id, sandboxId: row.sandbox_id, kind: row.kind },
        { ok: false, reason: "COMMAND_DEADLINE_EXCEEDED", message, retryable: true },
      );
      return true;
    });
  }

  /** STARTED sandboxes idle longer than auto_stop_seconds → stop. */
  private async autoStop(now: Date): Promise<number> {
    const ids: string[] = await this.deps
      .db("sandboxes")
      .where({ state: "STARTED", desired_state: "STARTED" })
      .where("auto_stop_seconds", ">", 0)
      .whereRaw("last_activity_time + auto_stop_seconds * interval '1 second' < ?", [now])
      .limit(this.options.batchSize)
      .pluck("id");
    return this.each(ids, async (id) => {
      await this.deps.manager.autoStop(id);
      this.logger.info("sandbox auto-stopped", { sandboxId: id });
      return true;
    });
  }

  /** STOPPED or ARCHIVED sandboxes older than auto_delete_seconds in that state → delete. */
  private async autoDelete(now: Date): Promise<number> {
    const ids: string[] = await this.deps
      .db("sandboxes")
      .whereIn("state", ["STOPPED", "ARCHIVED"])
      .where("auto_delete_seconds", ">", 0)
      .whereRaw("state_change_time + auto_delete_seconds * interval '1 second' < ?", [now])
      .limit(this.options.batchSize)
      .pluck("id");
    return this.each(ids, async (id) => {
      await this.deps.manager.autoDelete(id);
      this.logger.info("sandbox auto-deleted", { sandboxId: id });
      return true;
    });
  }

  /** Transitional sandboxes with no progress and no live command for stuckTransitionMs → ERROR. */
  private async failStuck(now: Date): Promise<number> {
    const olderThan = new Date(now.getTime() - this.options.stuckTransitionMs);
    const ids: string[] = await whereNoLiveCommand(this.deps.db("sandboxes as s"), "s.id")
      .whereIn("s.state", [
        "PULLING_SNAPSHOT",
        "CREATING",
        "STARTING",
        "STOPPING",
        "ARCHIVING",
        "RESTORING",
        "DESTROYING",
      ])
      .where("s.state_change_time", "<", olderThan)
      .limit(this.options.batchSize)
      .pluck("s.id");
    return this.each(ids, (id) => this.deps.manager.failStuck(id, olderThan));
  }

  /** DESTROYED records older than destroyedRetentionMs are deleted, with their access tokens. */
  private async purge(now: Date): Promise<number> {
    const before = new Date(now.getTime() - this.options.destroyedRetentionMs);
    return this.deps.db.transaction(async (trx): Promise<number> => {
      const ids: string[] = await trx("sandboxes")
        .where({ state: "DESTROYED" })
        .where("destroy_time", "<", before)
        .limit(this.options.batchSize)
        .pluck("id");
      if (ids.length === 0) return 0;
      await trx("access_tokens").whereIn("sandbox_id", ids).delete();
      const purged: number = await trx("sandboxes")
        .whereIn("id", ids)
        .where({ state: "DESTROYED" })
        .delete();
      return purged;
    });
  }
}
