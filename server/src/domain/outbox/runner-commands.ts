import { create, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  type RunnerCommandSchema,
  RunnerCommandSchema as Schema,
} from "@cove/gen-ts/cove/runner/v1/runner_pb.js";
import type { Knex } from "knex";
import { newId } from "../../ids.js";

/**
 * The runner_commands outbox, and its one owner: every read and write of the table goes
 * through this module. A command is PENDING when enqueued, SENT when a stream claimed it,
 * ACKED when the runner said it got it, and DONE or FAILED when finished (exactly once).
 */

/** Command states that still wait for a runner (not finished). */
export const LIVE_COMMAND_STATES: readonly string[] = ["PENDING", "SENT", "ACKED"];

/** Command states of finished commands. */
export const FINISHED_COMMAND_STATES: readonly string[] = ["DONE", "FAILED"];

/** Default time a runner has to finish a command, ms. */
export const DEFAULT_COMMAND_DEADLINE_MS = 5 * 60_000;

/** What to enqueue: the command's oneof, e.g. { case: "stopSandbox", value: { sandboxId } }. */
export type CommandBody = MessageInitShape<typeof RunnerCommandSchema>["command"];

/**
 * enqueueCommand writes a runner command to the outbox inside the caller's transaction, so the
 * state change and the command commit (or roll back) together. Returns the command id.
 */
export async function enqueueCommand(
  trx: Knex | Knex.Transaction,
  options: {
    runnerId: string;
    sandboxId: string | null;
    command: CommandBody;
    deadlineMs?: number;
  },
): Promise<string> {
  const id = newId("cmd");
  const now = new Date();
  const deadline = new Date(now.getTime() + (options.deadlineMs ?? DEFAULT_COMMAND_DEADLINE_MS));
  const message = create(Schema, {
    commandId: id,
    issueTime: timestampFromDate(now),
    deadlineTime: timestampFromDate(deadline),
    command: options.command,
  });
  await trx("runner_commands").insert({
    id,
    runner_id: options.runnerId,
    sandbox_id: options.sandboxId,
    kind: options.command?.case ?? "unknown",
    payload: Buffer.from(toBinary(Schema, message)),
    state: "PENDING",
    create_time: now,
    deadline_time: deadline,
  });
  return id;
}

type Db = Knex | Knex.Transaction;

/** A command row's identity, as the outbox hands it out. */
export interface OutboxRow {
  /** Command id. */
  id: string;
  /** The runner it is for. */
  runner_id: string;
  /** The sandbox it acts on, if any. */
  sandbox_id: string | null;
  /** The oneof case, e.g. "createSandbox". */
  kind: string;
  /** Its state. */
  state: string;
}

/** hasLiveCommand says whether the sandbox has an unfinished command (of `kinds`, when given). */
export async function hasLiveCommand(
  trx: Db,
  sandboxId: string,
  kinds?: readonly string[],
): Promise<boolean> {
  const query = trx("runner_commands").where({ sandbox_id: sandboxId });
  if (kinds) query.whereIn("kind", kinds);
  return (await query.whereIn("state", LIVE_COMMAND_STATES).first("id")) !== undefined;
}

/** hasLiveCreate says whether the sandbox's createSandbox or restoreSandbox is unfinished. */
export function hasLiveCreate(trx: Db, sandboxId: string): Promise<boolean> {
  return hasLiveCommand(trx, sandboxId, ["createSandbox", "restoreSandbox"]);
}

/** wasEverDelivered says whether any command of the sandbox reached (or may have reached) a runner. */
export async function wasEverDelivered(trx: Db, sandboxId: string): Promise<boolean> {
  const row = await trx("runner_commands")
    .where({ sandbox_id: sandboxId })
    .where((q) => q.whereNotNull("send_time").orWhereNotIn("state", ["PENDING", "FAILED"]))
    .first("id");
  return row !== undefined;
}

/**
 * cancelPendingCommands fails the sandbox's commands not yet sent (COMMAND_CANCELLED), only
 * those of `kinds` when given.
 */
export async function cancelPendingCommands(
  trx: Db,
  sandboxId: string,
  now: Date,
  kinds?: readonly string[],
): Promise<void> {
  const query = trx("runner_commands").where({ sandbox_id: sandboxId, state: "PENDING" });
  if (kinds) query.whereIn("kind", kinds);
  await query.update({
    state: "FAILED",
    error_reason: "COMMAND_CANCELLED",
    error_message: "superseded by a newer request before it was sent",
    finish_time: now,
  });
}

/** newerCommandExists says whether the sandbox got a command (of `kinds`, when given) after `commandId`. */
export async function newerCommandExists(
  trx: Db,
  sandboxId: string,
  commandId: string,
  kinds?: readonly string[],
): Promise<boolean> {
  const query = trx("runner_commands").where({ sandbox_id: sandboxId });
  if (kinds) query.whereIn("kind", kinds);
  const row = await query
    .whereNot({ id: commandId })
    .where(
      "create_time",
      ">",
      trx("runner_commands").where({ id: commandId }).select("create_time"),
    )
    .first("id");
  return row !== undefined;
}

/** hasPendingDestroy says whether the runner has an unfinished destroySandbox for the sandbox. */
export async function hasPendingDestroy(
  trx: Db,
  runnerId: string,
  sandboxId: string,
): Promise<boolean> {
  const row = await trx("runner_commands")
    .where({ runner_id: runnerId, sandbox_id: sandboxId, kind: "destroySandbox" })
    .whereIn("state", LIVE_COMMAND_STATES)
    .first("id");
  return row !== undefined;
}

/** deleteRunnerCommands drops every command of a runner (it is being unregistered). */
export async function deleteRunnerCommands(trx: Db, runnerId: string): Promise<void> {
  await trx("runner_commands").where({ runner_id: runnerId }).delete();
}

/**
 * whereNoLiveCommand narrows a query on sandboxes to those without an unfinished command;
 * `sandboxIdColumn` names the sandbox id column of the outer query (e.g. "s.id").
 */
export function whereNoLiveCommand<Q extends Knex.QueryBuilder>(
  query: Q,
  sandboxIdColumn: string,
): Q {
  return query.whereNotExists(function () {
    this.select(1)
      .from("runner_commands as c")
      .whereRaw("c.sandbox_id = ??", [sandboxIdColumn])
      .whereIn("c.state", LIVE_COMMAND_STATES);
  }) as Q;
}

/** markAcked records a runner's ack of a command it had not finished. */
export async function markAcked(db: Db, runnerId: string, commandId: string): Promise<void> {
  await db("runner_commands")
    .where({ id: commandId, runner_id: runnerId })
    .whereIn("state", ["PENDING", "SENT"])
    .update({ state: "ACKED", ack_time: new Date() });
}

/** findCommand returns one of the runner's commands, or undefined. */
export async function findCommand(
  db: Db,
  runnerId: string,
  commandId: string,
): Promise<OutboxRow | undefined> {
  return db("runner_commands")
    .where({ id: commandId, runner_id: runnerId })
    .first<OutboxRow | undefined>("id", "runner_id", "sandbox_id", "kind", "state");
}

/** finishCommand marks an unfinished command DONE (ok) or FAILED with the reason. Returns the rows changed. */
export async function finishCommand(
  db: Db,
  commandId: string,
  outcome: { ok: true } | { ok: false; reason: string; message: string },
  finishTime: Date,
): Promise<number> {
  return db("runner_commands")
    .where({ id: commandId })
    .whereNotIn("state", FINISHED_COMMAND_STATES)
    .update({
      state: outcome.ok ? "DONE" : "FAILED",
      finish_time: finishTime,
      error_reason: outcome.ok ? "" : outcome.reason,
      error_message: outcome.ok ? "" : outcome.message,
    });
}

/**
 * claimCommands marks up to `limit` of the runner's oldest unfinished commands (not in
 * `excluded`) SENT, attempt + 1, and returns them in creation order.
 */
export async function claimCommands(
  db: Knex,
  runnerId: string,
  excluded: readonly string[],
  limit: number,
): Promise<Array<{ id: string; attempt: number; payload: Buffer; create_time: Date }>> {
  const candidates = (await db("runner_commands")
    .where({ runner_id: runnerId })
    .whereIn("state", LIVE_COMMAND_STATES)
    .whereNotIn("id", excluded)
    .orderBy([{ column: "create_time" }, { column: "id" }])
    .limit(limit)
    .select("id")) as Array<{ id: string }>;
  if (candidates.length === 0) return [];
  const claimed = (await db("runner_commands")
    .whereIn(
      "id",
      candidates.map((c) => c.id),
    )
    .where({ runner_id: runnerId })
    .whereIn("state", LIVE_COMMAND_STATES)
    .update({ state: "SENT", attempt: db.raw("attempt + 1"), send_time: new Date() })
    .returning(["id", "attempt", "payload", "create_time"])) as Array<{
    id: string;
    attempt: number;
    payload: Buffer;
    create_time: Date;
  }>;
  return claimed.sort(
    (a, b) =>
      new Date(a.create_time).getTime() - new Date(b.create_time).getTime() ||
      (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
}

/** overdueCommands lists up to `limit` unfinished commands past their deadline, oldest first. */
export async function overdueCommands(
  db: Db,
  now: Date,
  limit: number,
): Promise<Array<Omit<OutboxRow, "state"> & { deadline_time: Date }>> {
  return db("runner_commands")
    .whereIn("state", LIVE_COMMAND_STATES)
    .where("deadline_time", "<", now)
    .orderBy("deadline_time")
    .limit(limit)
    .select("id", "runner_id", "sandbox_id", "kind", "deadline_time");
}

/** latestCommandId is the id of the sandbox's newest command of `kind`, if any. */
export async function latestCommandId(
  db: Db,
  sandboxId: string,
  kind: string,
): Promise<string | undefined> {
  const row = await db("runner_commands")
    .where({ sandbox_id: sandboxId, kind })
    .orderBy([
      { column: "create_time", order: "desc" },
      { column: "id", order: "desc" },
    ])
    .first<{ id: string } | undefined>("id");
  return row?.id;
}

/** A command's state and, when it failed, why. */
export interface CommandStatus {
  /** PENDING, SENT, ACKED, DONE or FAILED. */
  state: string;
  /** The ErrorReason name of a failure. */
  error_reason: string;
  /** The failure's message. */
  error_message: string;
}

/** commandStatus reads one command's state and failure. */
export function commandStatus(db: Db, commandId: string): Promise<CommandStatus | undefined> {
  return db("runner_commands")
    .where({ id: commandId })
    .first<CommandStatus | undefined>("state", "error_reason", "error_message");
}
