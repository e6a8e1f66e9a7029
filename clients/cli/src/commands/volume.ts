// `cove volume list|create|delete`: VolumeService over the API server. Servers that do not offer
// it yet answer UNIMPLEMENTED, which the CLI reports as such.
import { toJson } from "@bufbuild/protobuf";
import { type Volume, VolumeSchema, VolumeState } from "@cove/gen-ts/cove/volume/v1/volume_pb.js";
import type { ParsedArgs } from "../args.js";
import { api } from "../clients.js";
import type { Context } from "../context.js";
import { boolFlag, intFlag, keyValues } from "../flags.js";
import { age, enumName, printJson, printTable } from "../output.js";

/** volumeJson is a volume in proto3 JSON. */
function volumeJson(volume: Volume | undefined): unknown {
  return volume ? toJson(VolumeSchema, volume) : null;
}

/** listVolumes is `cove volume list`. */
export async function listVolumes(parsed: ParsedArgs, ctx: Context): Promise<number> {
  const volumes: Volume[] = [];
  let pageToken = "";
  do {
    const page = await api(ctx).volumes.listVolumes(
      { labels: keyValues(parsed, "label"), pageToken, pageSize: 500 },
      { timeoutMs: 30_000 },
    );
    volumes.push(...page.volumes);
    pageToken = page.nextPageToken;
  } while (pageToken);
  if (boolFlag(parsed, "json")) {
    printJson(ctx.io, volumes.map(volumeJson));
    return 0;
  }
  if (volumes.length === 0) {
    ctx.io.stderr.write("no volumes\n");
    return 0;
  }
  printTable(
    ctx.io,
    ["ID", "NAME", "STATE", "AGE"],
    volumes.map((v) => [v.volumeId, v.name, enumName(VolumeState, v.state), age(v.createTime)]),
  );
  return 0;
}

/** createVolume is `cove volume create`. */
export async function createVolume(parsed: ParsedArgs, ctx: Context): Promise<number> {
  const [name = ""] = parsed.args;
  const { volume } = await api(ctx).volumes.createVolume(
    {
      name,
      sizeLimitMib: intFlag(parsed, "size", { min: 1, max: 100_000_000 }) ?? 0,
      labels: keyValues(parsed, "label"),
    },
    { timeoutMs: 60_000 },
  );
  if (boolFlag(parsed, "json")) printJson(ctx.io, volumeJson(volume));
  else ctx.io.stdout.write(`${volume?.volumeId ?? ""}\n`);
  return 0;
}

/** deleteVolume is `cove volume delete`. */
export async function deleteVolume(parsed: ParsedArgs, ctx: Context): Promise<number> {
  const [volumeId = ""] = parsed.args;
  const { volume } = await api(ctx).volumes.deleteVolume({ volumeId }, { timeoutMs: 30_000 });
  if (boolFlag(parsed, "json")) printJson(ctx.io, volumeJson(volume));
  else
    ctx.io.stdout.write(
      `${volumeId} ${volume ? enumName(VolumeState, volume.state) : "deleted"}\n`,
    );
  return 0;
}
