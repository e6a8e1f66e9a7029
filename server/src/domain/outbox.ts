import { create, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  type RunnerCommandSchema,
  RunnerCommandSchema as Schema,
} from "@cove/gen-ts/cove/runner/v1/runner_pb.js";
import type { Knex } from "knex";
import { newId } from "../ids.js";

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
