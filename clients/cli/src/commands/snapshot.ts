// `cove snapshot list|get|create|delete`: SnapshotService over the API server. Servers that do
// not offer it yet answer UNIMPLEMENTED, which the CLI reports as such.
import { toJson } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import {
  type Snapshot,
  SnapshotSchema,
  SnapshotState,
} from "@cove/gen-ts/cove/snapshot/v1/snapshot_pb.js";
import type { ParsedArgs } from "../args.js";
import { api } from "../clients.js";
import type { Context } from "../context.js";
import { boolFlag, intFlag, keyValues, stringFlag } from "../flags.js";
import {
  age,
  enumName,
  isoTime,
  labelsText,
  printFields,
  printJson,
  printTable,
  withProgress,
} from "../output.js";

/** snapshotJson is a snapshot in proto3 JSON. */
function snapshotJson(snapshot: Snapshot | undefined): unknown {
  return snapshot ? toJson(SnapshotSchema, snapshot) : null;
}

/** printSnapshot prints one snapshot as JSON or as fields. */
function printSnapshot(ctx: Context, parsed: ParsedArgs, snapshot: Snapshot | undefined): void {
  if (boolFlag(parsed, "json") || !snapshot) {
    printJson(ctx.io, snapshotJson(snapshot));
    return;
  }
  printFields(ctx.io, [
    ["id", snapshot.snapshotId],
    ["name", snapshot.name],
    ["state", enumName(SnapshotState, snapshot.state)],
    ["image", snapshot.image],
    ["labels", labelsText(snapshot.labels)],
    ["created", isoTime(snapshot.createTime)],
    ...(snapshot.errorMessage ? ([["error", snapshot.errorMessage]] as [string, string][]) : []),
  ]);
}

/** listSnapshots is `cove snapshot list`. */
export async function listSnapshots(parsed: ParsedArgs, ctx: Context): Promise<number> {
  const snapshots: Snapshot[] = [];
  let pageToken = "";
  do {
    const page = await api(ctx).snapshots.listSnapshots(
      { labels: keyValues(parsed, "label"), pageToken, pageSize: 500 },
      { timeoutMs: 30_000 },
    );
    snapshots.push(...page.snapshots);
    pageToken = page.nextPageToken;
  } while (pageToken);
  if (boolFlag(parsed, "json")) {
    printJson(ctx.io, snapshots.map(snapshotJson));
    return 0;
  }
  if (snapshots.length === 0) {
    ctx.io.stderr.write("no snapshots\n");
    return 0;
  }
  printTable(
    ctx.io,
    ["ID", "NAME", "STATE", "IMAGE", "AGE"],
    snapshots.map((s) => [
      s.snapshotId,
      s.name,
      enumName(SnapshotState, s.state),
      s.image,
      age(s.createTime),
    ]),
  );
  return 0;
}

/** getSnapshot is `cove snapshot get`. */
export async function getSnapshot(parsed: ParsedArgs, ctx: Context): Promise<number> {
  const [key = ""] = parsed.args;
  const { snapshot } = await api(ctx).snapshots.getSnapshot(
    {
      key: boolFlag(parsed, "name")
        ? { case: "name", value: key }
        : { case: "snapshotId", value: key },
    },
    { timeoutMs: 30_000 },
  );
  printSnapshot(ctx, parsed, snapshot);
  return 0;
}

/** createSnapshot is `cove snapshot create`. */
export async function createSnapshot(parsed: ParsedArgs, ctx: Context): Promise<number> {
  const [name = ""] = parsed.args;
  const image = stringFlag(parsed, "image");
  const sandboxId = stringFlag(parsed, "from-sandbox");
  const wait = boolFlag(parsed, "wait");
  const seconds = intFlag(parsed, "timeout", { min: 1, max: 600 }) ?? 600;
  const { snapshot } = await withProgress(ctx.io, `creating snapshot ${name}…`, () =>
    api(ctx).snapshots.createSnapshot(
      {
        name,
        source: sandboxId
          ? { case: "sandbox", value: { sandboxId } }
          : image
            ? { case: "image", value: image }
            : { case: undefined },
        labels: keyValues(parsed, "label"),
        wait,
        waitTimeout: durationFromMs(seconds * 1000),
      },
      { timeoutMs: (seconds + 30) * 1000 },
    ),
  );
  if (boolFlag(parsed, "json")) printJson(ctx.io, snapshotJson(snapshot));
  else ctx.io.stdout.write(`${snapshot?.snapshotId ?? ""}\n`);
  return 0;
}

/** deleteSnapshot is `cove snapshot delete`. */
export async function deleteSnapshot(parsed: ParsedArgs, ctx: Context): Promise<number> {
  const [snapshotId = ""] = parsed.args;
  await api(ctx).snapshots.deleteSnapshot({ snapshotId }, { timeoutMs: 30_000 });
  if (boolFlag(parsed, "json")) printJson(ctx.io, { snapshotId, deleted: true });
  else ctx.io.stdout.write(`${snapshotId} deleted\n`);
  return 0;
}
