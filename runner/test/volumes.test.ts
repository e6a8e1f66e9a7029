// Local volumes through the runner's command executor against the real engine: one volume
// shared read-write by two running sandboxes (written as the sandbox user, uid 1000), sub paths,
// read-only mounts, symlinks a sandbox plants in a volume (never followed on the host, also when
// swapped in after the sandbox was created), the volume outliving its sandboxes, and removal.
import * as fs from "node:fs";
import * as path from "node:path";
import { ErrorReason } from "@cove/gen-ts/cove/errors/v1/error_reason_pb.js";
import type { CommandResult } from "@cove/gen-ts/cove/runner/v1/runner_pb.js";
import { dockerUnreachableReason } from "../../daemon/test/docker-images.js";
import { ensureBaseImage } from "../../scripts/build-base-image.mjs";
import { type ExecutorHarness, startExecutorHarness } from "./executor-harness.js";

const unreachable = dockerUnreachableReason();
const required = process.env.COVE_REQUIRE_DOCKER === "1";
const describeWithDocker = unreachable !== undefined && !required ? describe.skip : describe;
if (unreachable !== undefined && !required) console.warn(`Skipping volume tests: ${unreachable}`);

const run = Date.now().toString(36).slice(-6);
const sid = (name: string) => `rtvol${run}${name}`;
const volumeId = `vol-${run}`;

function ok(result: CommandResult) {
  if (result.outcome.case !== "success")
    throw new Error(`command failed: ${JSON.stringify(result.outcome.value)}`);
  return result.outcome.value;
}

function failure(result: CommandResult) {
  if (result.outcome.case !== "error") throw new Error("the command succeeded");
  return result.outcome.value;
}

describeWithDocker("local volumes through the runner", () => {
  let h: ExecutorHarness;
  let image: string;
  const spec = (
    sandboxId: string,
    volumes: Array<{ mountPath: string; subPath?: string; readOnly?: boolean; volumeId?: string }>,
  ) => ({
    sandboxId,
    organizationId: "org",
    image,
    resources: { cpuMillicores: 500, memoryMib: 256 },
    volumes: volumes.map((v) => ({
      volumeId: v.volumeId ?? volumeId,
      mountPath: v.mountPath,
      subPath: v.subPath ?? "",
      readOnly: v.readOnly ?? false,
    })),
  });
  const create = (sandboxId: string, volumes: Parameters<typeof spec>[1]) =>
    h.run({ case: "createSandbox", value: { spec: spec(sandboxId, volumes) } });
  const stagingMounts = () =>
    fs
      .readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .filter((l) => l.includes(h.dataDir));

  beforeAll(async () => {
    if (unreachable !== undefined) throw new Error(`COVE_REQUIRE_DOCKER=1 but: ${unreachable}`);
    image = (await ensureBaseImage({ log: () => {} })).image;
    h = await startExecutorHarness({ label: "runner-volumes" });
  }, 600_000);

  afterAll(async () => {
    await h?.close();
  });

  test("two running sandboxes share one volume read-write; files are the sandbox user's", async () => {
    ok(await create(sid("a"), [{ mountPath: "/home/cove/data" }]));
    ok(await create(sid("b"), [{ mountPath: "/srv/shared" }]));
    const wrote = await h.exec(
      sid("a"),
      "echo 'from a' > /home/cove/data/a.txt && mkdir -p /home/cove/data/deep/er && id -u",
      "cove",
    );
    expect(wrote).toMatchObject({ code: 0, out: "1000\n" });
    expect(
      (await h.exec(sid("b"), "cat /srv/shared/a.txt; stat -c '%u' /srv/shared/a.txt", "cove")).out,
    ).toBe("from a\n1000\n");
    await h.exec(sid("b"), "echo 'from b' >> /srv/shared/a.txt", "cove");
    expect((await h.exec(sid("a"), "cat /home/cove/data/a.txt")).out).toBe("from a\nfrom b\n");
    const onHost = path.join(h.volumes.volumeDir(volumeId), "a.txt");
    expect(fs.statSync(onHost).uid).toBe(1000);
  }, 120_000);

  test("a sub path mounts a directory inside the volume; read-only mounts refuse writes", async () => {
    ok(
      await create(sid("c"), [
        { mountPath: "/mnt/one", subPath: "projects/one" },
        { mountPath: "/mnt/ro", readOnly: true },
      ]),
    );
    await h.exec(sid("a"), "echo in-sub > /home/cove/data/projects/one/x.txt", "cove");
    expect((await h.exec(sid("c"), "cat /mnt/one/x.txt; ls /mnt/ro")).out).toBe(
      "in-sub\na.txt\ndeep\nprojects\n",
    );
    const ro = await h.exec(sid("c"), "touch /mnt/ro/nope 2>&1; echo $?", "cove");
    expect(ro.out).toMatch(/Read-only file system\n1\n$/);
    expect(stagingMounts()).toEqual([]);
  }, 120_000);

  test("symlinks planted in the volume are never followed on the host, not even swapped in before a start", async () => {
    await h.exec(
      sid("a"),
      "ln -s / /home/cove/data/evil && ln -s /etc /home/cove/data/projects/etc && mkdir /home/cove/data/swap && echo inside > /home/cove/data/swap/f",
    );
    const direct = failure(await create(sid("d"), [{ mountPath: "/mnt/evil", subPath: "evil" }]));
    expect(direct.reason).toBe(ErrorReason.VOLUME_STATE_CONFLICT);
    const nested = failure(
      await create(sid("e"), [{ mountPath: "/mnt/etc", subPath: "projects/etc/ssh" }]),
    );
    expect(nested.reason).toBe(ErrorReason.VOLUME_STATE_CONFLICT);

    ok(await create(sid("f"), [{ mountPath: "/mnt/swap", subPath: "swap" }]));
    expect((await h.exec(sid("f"), "cat /mnt/swap/f")).out).toBe("inside\n");
    ok(
      await h.run({
        case: "stopSandbox",
        value: { sandboxId: sid("f"), gracePeriod: { seconds: 0n } },
      }),
    );
    // While f is stopped, its neighbour swaps the directory for a link to the host's /etc.
    await h.exec(
      sid("a"),
      "mv /home/cove/data/swap /home/cove/data/swap.real && ln -s /etc /home/cove/data/swap",
    );
    const swapped = failure(await h.run({ case: "startSandbox", value: { sandboxId: sid("f") } }));
    expect(swapped.reason).toBe(ErrorReason.VOLUME_STATE_CONFLICT);
    expect(stagingMounts()).toEqual([]);
    ok(await h.run({ case: "destroySandbox", value: { sandboxId: sid("f") } }));
  }, 180_000);

  test("bad mount paths and sub paths are INVALID_FIELD", async () => {
    for (const [mountPath, subPath] of [
      ["/proc/x", ""],
      ["/run/cove", ""],
      ["/cove/kit", ""],
      ["relative/path", ""],
      ["/", ""],
      ["/mnt/ok", "../outside"],
      ["/mnt/ok", "/abs"],
    ] as const) {
      const err = failure(await create(sid("g"), [{ mountPath, subPath }]));
      expect([mountPath, subPath, err.reason]).toEqual([
        mountPath,
        subPath,
        ErrorReason.INVALID_FIELD,
      ]);
    }
  }, 60_000);

  test("the volume outlives its sandboxes; RemoveVolume refuses while mounted, then deletes the data", async () => {
    ok(await h.run({ case: "destroySandbox", value: { sandboxId: sid("a") } }));
    ok(await h.run({ case: "destroySandbox", value: { sandboxId: sid("b") } }));
    expect(fs.readFileSync(path.join(h.volumes.volumeDir(volumeId), "a.txt"), "utf8")).toBe(
      "from a\nfrom b\n",
    );
    const inUse = failure(await h.run({ case: "removeVolume", value: { volumeId } }));
    expect(inUse.reason).toBe(ErrorReason.VOLUME_IN_USE);
    expect(inUse.message).toContain(sid("c"));
    ok(await h.run({ case: "destroySandbox", value: { sandboxId: sid("c") } }));
    ok(await h.run({ case: "removeVolume", value: { volumeId } }));
    expect(fs.existsSync(path.dirname(h.volumes.volumeDir(volumeId)))).toBe(false);
    // Host files the planted links pointed at are untouched.
    expect(fs.existsSync("/etc/passwd")).toBe(true);
    ok(await h.run({ case: "removeVolume", value: { volumeId } }));
  }, 120_000);
});
