import type { Logger } from "@cove/common";
import type { Knex } from "knex";
import { enqueueCommand, hasPendingDestroy } from "../outbox/runner-commands.js";
import { RUNNER_BOUND_STATES } from "../sandbox/occupancy.js";
import type { SandboxStateName } from "../sandbox/ports.js";

/** Default time a container without a live row may live before it is destroyed: 10 minutes. */
export const DEFAULT_ORPHAN_GRACE_MS = 10 * 60_000;

/** One container a runner holds that the database does not want. */
export interface OrphanEntry {
  /** The container's sandbox id. */
  sandboxId: string;
  /** When this replica first saw it orphaned. */
  firstSeen: Date;
  /** True once a destroySandbox command is in the outbox for it. */
  enqueued: boolean;
}

/** What the reaper needs. */
export interface OrphanReaperDeps {
  /** The database the outbox lives in. */
  db: Knex;
  /** For what it reaps and for database errors. */
  logger: Logger;
  /** How long an orphan lives before it is destroyed, ms. */
  gracePeriodMs: number;
  /** Whether this replica holds the runner's stream (only then does it reap its orphans). */
  isConnectedHere: (runnerId: string) => boolean;
  /** Called after a destroy was enqueued, to wake delivery. */
  onEnqueued: (runnerId: string) => void;
}

/**
 * OrphanReaper remembers, per runner, the containers that reconciliation found without a live
 * row, and once one has stayed orphaned for the grace period enqueues destroySandbox for it —
 * never sooner, at most once while that command is unfinished, and never when the database
 * cannot confirm (a database error skips the sweep and is logged; the next sweep tries again).
 */
export class OrphanReaper {
  private readonly byRunner = new Map<string, Map<string, OrphanEntry>>();
  private sweeping = false;

  constructor(private readonly deps: OrphanReaperDeps) {}

  /**
   * track replaces a runner's orphans with the latest reconciliation's list; containers that
   * were already orphaned keep their first-seen time.
   */
  track(runnerId: string, orphans: readonly string[], now = new Date()): void {
    const previous = this.byRunner.get(runnerId);
    const next = new Map<string, OrphanEntry>();
    for (const sandboxId of new Set(orphans)) {
      next.set(
        sandboxId,
        previous?.get(sandboxId) ?? { sandboxId, firstSeen: now, enqueued: false },
      );
    }
    if (next.size === 0) this.byRunner.delete(runnerId);
    else this.byRunner.set(runnerId, next);
  }

  /** forget drops one orphan (its container is gone, e.g. the runner reported it DESTROYED). */
  forget(runnerId: string, sandboxId: string): void {
    const entries = this.byRunner.get(runnerId);
    if (!entries?.delete(sandboxId)) return;
    if (entries.size === 0) this.byRunner.delete(runnerId);
  }

  /**
   * destroyFinished tells the reaper a destroySandbox it may have enqueued ended: on success the
   * orphan is gone; on failure it is tried again after another grace period.
   */
  destroyFinished(runnerId: string, sandboxId: string, ok: boolean, now = new Date()): void {
    const entry = this.byRunner.get(runnerId)?.get(sandboxId);
    if (!entry) return;
    if (ok) {
      this.forget(runnerId, sandboxId);
      return;
    }
    entry.enqueued = false;
    entry.firstSeen = now;
  }

  /** orphans lists what the reaper remembers for a runner (for observability and tests). */
  orphans(runnerId: string): OrphanEntry[] {
    return [...(this.byRunner.get(runnerId)?.values() ?? [])].map((e) => ({ ...e }));
  }

  /** clear forgets everything (on shutdown). */
  clear(): void {
    this.byRunner.clear();
  }

  /** sweep enqueues destroys for orphans past their grace period. Never throws. */
  async sweep(now = new Date()): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      for (const [runnerId, entries] of [...this.byRunner]) {
        if (!this.deps.isConnectedHere(runnerId)) continue;
        for (const entry of [...entries.values()]) {
          if (entry.enqueued) continue;
          if (now.getTime() - entry.firstSeen.getTime() < this.deps.gracePeriodMs) continue;
          try {
            const outcome = await this.reap(runnerId, entry.sandboxId);
            // The entry may have been replaced or forgotten while the database answered.
            const current = this.byRunner.get(runnerId)?.get(entry.sandboxId);
            if (outcome === "live") {
              if (current) this.forget(runnerId, entry.sandboxId);
              continue;
            }
            if (current) current.enqueued = true;
            if (outcome === "enqueued") {
              this.deps.logger.info("destroying an orphaned sandbox container", {
                runnerId,
                sandboxId: entry.sandboxId,
                orphanedSince: entry.firstSeen.toISOString(),
              });
              this.deps.onEnqueued(runnerId);
            }
          } catch (err) {
            // Fail closed: without the database nothing is destroyed; the next sweep retries.
            this.deps.logger.warn("orphan sweep skipped: the database did not answer", {
              runnerId,
              sandboxId: entry.sandboxId,
              err,
            });
            return;
          }
        }
      }
    } finally {
      this.sweeping = false;
    }
  }

  /**
   * reap re-checks one orphan and enqueues its destroy, under a transaction-scoped advisory
   * lock so replicas never enqueue it twice. "live" when a row claims it again.
   */
  private async reap(
    runnerId: string,
    sandboxId: string,
  ): Promise<"live" | "pending" | "enqueued"> {
    return this.deps.db.transaction(async (trx) => {
      await trx.raw("select pg_advisory_xact_lock(hashtext(?))", [
        `cove:orphan:${runnerId}:${sandboxId}`,
      ]);
      const live = await trx("sandboxes")
        .where({ id: sandboxId, runner_id: runnerId })
        .whereIn("state", RUNNER_BOUND_STATES as SandboxStateName[])
        .first("id");
      if (live) return "live";
      if (await hasPendingDestroy(trx, runnerId, sandboxId)) return "pending";
      await enqueueCommand(trx, {
        runnerId,
        sandboxId,
        command: { case: "destroySandbox", value: { sandboxId } },
      });
      return "enqueued";
    });
  }
}
