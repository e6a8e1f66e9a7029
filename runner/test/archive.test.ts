// Archive and restore through the runner's command executor against the real engine, a real
// S3-API server (s3rver on loopback) and the local archive directory: a tree with symlinks (one
// to /etc/shadow), owners and modes, a FIFO, a 200 MiB file, a sparse file, a deleted image file
// and a replaced image directory comes back byte for byte, as the sandbox itself sees it; the
// archive holds only the writable layer; a runner without the base image pulls it or says
// IMAGE_NOT_FOUND; the export fallback restores with no base image at all.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { ErrorReason } from "@cove/gen-ts/cove/errors/v1/error_reason_pb.js";
import type { CommandResult } from "@cove/gen-ts/cove/runner/v1/runner_pb.js";
import { SandboxState } from "@cove/gen-ts/cove/sandbox/v1/sandbox_pb.js";
import {
  docker,
  dockerUnreachableReason,
  ensureNoNodeImage,
} from "../../daemon/test/docker-images.js";
import { ensureBaseImage } from "../../scripts/build-base-image.mjs";
import { type ExecutorHarness, removeImages, startExecutorHarness } from "./executor-harness.js";
import { MANIFEST_PATHS, MANIFEST_SCRIPT, populateCommand } from "./fs-manifest.js";
import { registryUnavailableReason, startRegistry, type TestRegistry } from "./registry.js";
import { startS3, type TestS3 } from "./s3-server.js";

const unreachable = dockerUnreachableReason() ?? registryUnavailableReason();
const required = process.env.COVE_REQUIRE_DOCKER === "1";
const describeWithDocker = unreachable !== undefined && !required ? describe.skip : describe;
if (unreachable !== undefined && !required) console.warn(`Skipping archive tests: ${unreachable}`);

const run = Date.now().toString(36).slice(-6);
const sid = (name: string) => `rtarc${run}${name}`;
const label = "runner-archive";

function ok(result: CommandResult) {
  if (result.outcome.case !== "success")
    throw new Error(`command failed: ${JSON.stringify(result.outcome.value)}`);
  return result.outcome.value;
}

function failure(result: CommandResult) {
  if (result.outcome.case !== "error") throw new Error("the command succeeded");
  return result.outcome.value;
}

describeWithDocker("archive and restore through the runner", () => {
  let h: ExecutorHarness;
  let exportRunner: ExecutorHarness;
  let s3: TestS3;
  let registry: TestRegistry;
  let base: string;
  const tags: string[] = [];

  const spec = (sandboxId: string, image = base) => ({
    sandboxId,
    organizationId: "org",
    image,
    resources: { cpuMillicores: 1000, memoryMib: 512 },
  });
  const manifest = async (harness: ExecutorHarness, sandboxId: string) => {
    const res = await harness.exec(
      sandboxId,
      `python3 -c '${MANIFEST_SCRIPT.replace(/'/g, "'\\''")}' ${MANIFEST_PATHS.join(" ")}`,
      "root",
    );
    expect(res.err).toBe("");
    return res.out;
  };
  const stop = (harness: ExecutorHarness, sandboxId: string) =>
    harness.run({ case: "stopSandbox", value: { sandboxId, gracePeriod: { seconds: 1n } } });

  beforeAll(async () => {
    if (unreachable !== undefined) throw new Error(`COVE_REQUIRE_DOCKER=1 but: ${unreachable}`);
    base = (await ensureBaseImage({ log: () => {} })).image;
    s3 = await startS3();
    registry = await startRegistry();
    h = await startExecutorHarness({ label, s3: s3.settings });
    exportRunner = await startExecutorHarness({ label, archiveMode: "export" });
  }, 600_000);

  afterAll(async () => {
    await h?.close();
    await exportRunner?.close();
    removeImages(label, tags);
    await s3?.stop();
    await registry?.stop();
  });

  test("S3 and then local: the tree comes back byte for byte; the archive is the writable layer only", async () => {
    const id = sid("a");
    ok(await h.run({ case: "createSandbox", value: { spec: spec(id) } }));
    const populated = await h.exec(id, populateCommand(200), "root");
    expect(populated).toMatchObject({ code: 0, err: "" });
    const before = await manifest(h, id);
    expect(before).toContain('"link", "/etc/shadow"');
    expect(before).toContain('["/etc/issue.net", "absent"]');
    ok(await stop(h, id));

    const s3Uri = `s3://${s3.bucket}/org/${id}.tar`;
    const archived = ok(
      await h.run(
        { case: "archiveSandbox", value: { sandboxId: id, archiveUri: s3Uri } },
        `arc-${run}`,
      ),
    );
    expect(archived.payload.case).toBe("archive");
    const size = archived.payload.case === "archive" ? archived.payload.value.sizeMib : 0;
    // 200 MiB of data and a few KiB of layer; never the 600 MB base image, never the sparse file's holes.
    expect(size).toBeGreaterThanOrEqual(200);
    expect(size).toBeLessThan(215);
    expect(docker(["ps", "-aq", "--filter", `name=^${id}$`]).trim()).toBe("");
    expect(h.progressOf(`arc-${run}`).some((p) => p.stage === "uploading")).toBe(true);
    // Archiving again once the container is gone succeeds at once.
    ok(await h.run({ case: "archiveSandbox", value: { sandboxId: id, archiveUri: s3Uri } }));

    const restored = ok(
      await h.run({ case: "restoreSandbox", value: { spec: spec(id), archiveUri: s3Uri } }),
    );
    expect(restored.payload.case === "sandbox" && restored.payload.value.sandbox?.state).toBe(
      SandboxState.STARTED,
    );
    expect(await manifest(h, id)).toBe(before);
    const blocks = await h.exec(id, "stat -c %b /home/cove/tree/sparse.bin");
    expect(Number(blocks.out) * 512).toBeLessThan(1024 * 1024);
    expect((await h.exec(id, "cat /home/cove/tree/private/s", "cove")).out).toBe("secret\n");

    // The same sandbox through the local store.
    ok(await stop(h, id));
    const fileUri = h.archives.archiveUriFor(id);
    ok(await h.run({ case: "archiveSandbox", value: { sandboxId: id, archiveUri: fileUri } }));
    const file = fileUri.slice("file://".length);
    const listing = spawnSync("tar", ["-tvf", file], {
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
    }).stdout;
    expect(listing.split("\n")[0]).toMatch(/ cove-archive\.json$/);
    expect(listing).toMatch(/^l.* \.\/home\/cove\/tree\/shadow-link -> \/etc\/shadow$/m);
    expect(listing).not.toMatch(/\.\/etc\/shadow$/m);
    expect(listing).toMatch(/^c.* \.\/etc\/issue\.net$/m);
    expect(fs.readdirSync(path.dirname(file)).filter((n) => n.includes(".partial-"))).toEqual([]);
    ok(await h.run({ case: "restoreSandbox", value: { spec: spec(id), archiveUri: fileUri } }));
    expect(await manifest(h, id)).toBe(before);
    // A restore of a sandbox that exists just starts it.
    ok(await h.run({ case: "restoreSandbox", value: { spec: spec(id), archiveUri: fileUri } }));
    ok(await h.run({ case: "destroySandbox", value: { sandboxId: id } }));
    // Destroy removes the runner's local archive copy too.
    expect(fs.existsSync(file)).toBe(false);
  }, 600_000);

  test("a runner without the base image pulls it from spec.image, or reports IMAGE_NOT_FOUND", async () => {
    const ref = `${registry.host}/cove/archbase:${run}`;
    tags.push(ref);
    const built = ok(
      await h.run({
        case: "buildSnapshotImage",
        value: {
          snapshotId: "s",
          image: ref,
          push: true,
          dockerfile: { content: `FROM ${ensureNoNodeImage()}\nLABEL run=${run}\n` },
        },
      }),
    );
    expect(built.payload.case).toBe("image");
    const id = sid("b");
    ok(await h.run({ case: "createSandbox", value: { spec: spec(id, ref) } }));
    await h.exec(id, "echo kept > /tmp/kept && ln -s /etc/shadow /tmp/link", "root");
    ok(await stop(h, id));
    const uri = `s3://${s3.bucket}/${id}.tar`;
    ok(await h.run({ case: "archiveSandbox", value: { sandboxId: id, archiveUri: uri } }));
    docker(["rmi", ref]);

    const missing = failure(
      await h.run({
        case: "restoreSandbox",
        value: { spec: spec(id, `${registry.host}/cove/archbase:nosuchtag`), archiveUri: uri },
      }),
    );
    expect(missing.reason).toBe(ErrorReason.IMAGE_NOT_FOUND);
    ok(await h.run({ case: "restoreSandbox", value: { spec: spec(id, ref), archiveUri: uri } }));
    expect((await h.exec(id, "cat /tmp/kept; readlink /tmp/link")).out).toBe("kept\n/etc/shadow\n");
    ok(await h.run({ case: "destroySandbox", value: { sandboxId: id } }));
  }, 300_000);

  test("the export fallback restores the whole filesystem without the base image", async () => {
    const id = sid("c");
    const small = ensureNoNodeImage();
    ok(
      await exportRunner.run({
        case: "createSandbox",
        value: { spec: { ...spec(id, small), osUser: "cove" } },
      }),
    );
    await exportRunner.exec(
      id,
      "mkdir -p /home/cove/t && cd /home/cove/t && head -c 3000000 /dev/urandom > r && ln -s /etc/shadow s && chown 1000 r && chmod 600 r && rm /etc/group",
      "root",
    );
    const sums =
      "cd /home/cove/t && sha256sum r && stat -c '%a %u %N' r s && ls /etc/group 2>&1; id -un";
    const before = (await exportRunner.exec(id, sums)).out;
    ok(await stop(exportRunner, id));
    const uri = `s3://${s3.bucket}/export/${id}.tar`;
    const noS3 = failure(
      await exportRunner.run({ case: "archiveSandbox", value: { sandboxId: id, archiveUri: uri } }),
    );
    expect(noS3.reason).toBe(ErrorReason.ARCHIVE_FAILED);
    const fileUri = exportRunner.archives.archiveUriFor(id);
    ok(
      await exportRunner.run({
        case: "archiveSandbox",
        value: { sandboxId: id, archiveUri: fileUri },
      }),
    );
    ok(
      await exportRunner.run({
        case: "restoreSandbox",
        value: {
          spec: { ...spec(id, "cove-test/absent:none"), osUser: "cove" },
          archiveUri: fileUri,
        },
      }),
    );
    expect((await exportRunner.exec(id, sums)).out).toBe(before);
    ok(await exportRunner.run({ case: "destroySandbox", value: { sandboxId: id } }));
    expect(docker(["images", "-q", `cove-restore/${id}:archive`]).trim()).toBe("");
  }, 300_000);

  test("bad archive requests say what is wrong", async () => {
    const running = sid("d");
    ok(await h.run({ case: "createSandbox", value: { spec: spec(running, ensureNoNodeImage()) } }));
    const started = failure(
      await h.run({
        case: "archiveSandbox",
        value: { sandboxId: running, archiveUri: h.archives.archiveUriFor(running) },
      }),
    );
    expect(started.reason).toBe(ErrorReason.SANDBOX_STATE_CONFLICT);
    for (const uri of [
      "file:///etc/passwd",
      `file://${h.dataDir}/archives/../escape.tar`,
      "http://example/x",
      "s3://B/x",
    ]) {
      const err = failure(
        await h.run({ case: "archiveSandbox", value: { sandboxId: running, archiveUri: uri } }),
      );
      expect([uri, err.reason]).toEqual([uri, ErrorReason.INVALID_FIELD]);
    }
    const none = failure(
      await h.run({
        case: "restoreSandbox",
        value: { spec: spec(sid("e")), archiveUri: `s3://${s3.bucket}/none.tar` },
      }),
    );
    expect(none.reason).toBe(ErrorReason.RESTORE_FAILED);
    ok(await h.run({ case: "destroySandbox", value: { sandboxId: running } }));
  }, 120_000);
});
