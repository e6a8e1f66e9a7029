// Snapshot images through the runner's command executor against the real engine and a real
// registry (Debian's docker-registry on loopback, behind basic auth): builds with streamed logs
// and failing steps, hostile build inputs, push and pull with credentials that never show up in
// a message or a log, removal while in use, and commit + fork of a running sandbox.
import { ErrorReason } from "@cove/gen-ts/cove/errors/v1/error_reason_pb.js";
import type { CommandResult } from "@cove/gen-ts/cove/runner/v1/runner_pb.js";
import { SandboxState } from "@cove/gen-ts/cove/sandbox/v1/sandbox_pb.js";
import {
  docker,
  dockerUnreachableReason,
  ensureNoNodeImage,
} from "../../daemon/test/docker-images.js";
import { ensureBaseImage } from "../../scripts/build-base-image.mjs";
import {
  capturingLogger,
  type ExecutorHarness,
  removeImages,
  startExecutorHarness,
} from "./executor-harness.js";
import { registryUnavailableReason, startRegistry, type TestRegistry } from "./registry.js";

const unreachable = dockerUnreachableReason() ?? registryUnavailableReason();
const required = process.env.COVE_REQUIRE_DOCKER === "1";
const describeWithDocker = unreachable !== undefined && !required ? describe.skip : describe;
if (unreachable !== undefined && !required) console.warn(`Skipping image tests: ${unreachable}`);

const label = "runner-images";
const run = `${process.pid}${Date.now().toString(36)}`;
const password = `pw-${run}-s3cr3t`;
const creds = { server: "", username: "cove", password };

function success(result: CommandResult) {
  if (result.outcome.case !== "success") {
    throw new Error(`command failed: ${JSON.stringify(result.outcome.value)}`);
  }
  return result.outcome.value;
}

function failure(result: CommandResult) {
  if (result.outcome.case !== "error") throw new Error("the command succeeded");
  return result.outcome.value;
}

function image(result: CommandResult) {
  const payload = success(result).payload;
  if (payload.case !== "image") throw new Error(`no image payload: ${payload.case}`);
  return payload.value;
}

describeWithDocker("snapshot images through the runner", () => {
  let h: ExecutorHarness;
  let registry: TestRegistry;
  let busybox: string;
  let base: string;
  const logs = capturingLogger();
  const tags: string[] = [];
  const dockerfile = () =>
    `FROM ${busybox}\nCOPY greeting.txt /greeting.txt\nRUN cat /greeting.txt && echo built-line-$((6 * 7))\nCMD ["sleep", "infinity"]\n`;
  const context = [{ path: "./greeting.txt", content: Buffer.from("hello from the context\n") }];

  beforeAll(async () => {
    if (unreachable !== undefined) throw new Error(`COVE_REQUIRE_DOCKER=1 but: ${unreachable}`);
    busybox = ensureNoNodeImage();
    base = (await ensureBaseImage({ log: () => {} })).image;
    registry = await startRegistry({ cove: password });
    h = await startExecutorHarness({ label, logger: logs.logger });
  }, 600_000);

  afterAll(async () => {
    await h?.close();
    removeImages(label, tags);
    await registry?.stop();
  });

  test("a Dockerfile build streams its log line by line and tags the image; a second build is skipped", async () => {
    const ref = `cove-test/built:${run}`;
    tags.push(ref);
    const result = await h.run(
      {
        case: "buildSnapshotImage",
        value: {
          snapshotId: "snap-1",
          image: ref,
          dockerfile: { content: dockerfile(), contextFiles: context },
        },
      },
      `build-${run}`,
    );
    const built = image(result);
    expect(built.image).toBe(ref);
    expect(built.digest).toBe(docker(["image", "inspect", "--format", "{{.Id}}", ref]).trim());
    expect(built.sizeMib).toBeGreaterThan(0);
    const log = h.logText(`build-${run}`).split("\n");
    expect(log).toContain("hello from the context");
    expect(log).toContain("built-line-42");
    expect(log.some((l) => /^Step 3\/\d+ : RUN cat \/greeting.txt/.test(l))).toBe(true);
    expect(h.progressOf(`build-${run}`)[0]?.stage).toBe("building");
    expect(
      docker([
        "image",
        "inspect",
        "--format",
        '{{index .Config.Labels "dev.cove.snapshot-id"}}',
        ref,
      ]).trim(),
    ).toBe("snap-1");

    const again = await h.run(
      {
        case: "buildSnapshotImage",
        value: {
          snapshotId: "snap-1",
          image: ref,
          dockerfile: { content: dockerfile(), contextFiles: context },
        },
      },
      `rebuild-${run}`,
    );
    expect(image(again).digest).toBe(built.digest);
    expect(h.logText(`rebuild-${run}`)).toMatch(/exists already; not building it again/);
    expect(h.logText(`rebuild-${run}`)).not.toMatch(/Step 1/);
  }, 180_000);

  test("a failing step is SNAPSHOT_BUILD_FAILED naming the step, with its output's tail", async () => {
    const err = failure(
      await h.run({
        case: "buildSnapshotImage",
        value: {
          snapshotId: "snap-fail",
          image: `cove-test/broken:${run}`,
          dockerfile: {
            content: `FROM ${busybox}\nRUN echo fine\nRUN echo about to fail >&2; echo last words; exit 3\nRUN echo never\n`,
          },
        },
      }),
    );
    expect(err.reason).toBe(ErrorReason.SNAPSHOT_BUILD_FAILED);
    expect(err.message).toMatch(/^build step 3\/\d+ : RUN echo about to fail/);
    expect(err.message).toMatch(/returned a non-zero code: 3/);
    // stdout and stderr of a step are not ordered against each other.
    expect(err.message).toMatch(
      /last output lines:\n(about to fail\nlast words|last words\nabout to fail)$/,
    );
    expect(err.retryable).toBe(false);
    expect(docker(["images", "-q", `cove-test/broken:${run}`]).trim()).toBe("");
  }, 120_000);

  test("hostile build inputs are refused before anything reaches the engine", async () => {
    const build = async (
      dockerfileText: string,
      contextFiles: Array<{ path: string; content: Buffer }> = [],
    ) =>
      failure(
        await h.run({
          case: "buildSnapshotImage",
          value: {
            snapshotId: "snap-x",
            image: `cove-test/hostile:${run}`,
            dockerfile: { content: dockerfileText, contextFiles },
          },
        }),
      );
    const simple = `FROM ${busybox}\nCOPY . /ctx\n`;
    for (const bad of [
      "../escape",
      "a/../../escape",
      "/etc/passwd",
      "nul\0byte",
      ".cove-build.Dockerfile",
    ]) {
      const err = await build(simple, [{ path: bad, content: Buffer.from("x") }]);
      expect([bad, err.reason]).toEqual([bad, ErrorReason.INVALID_FIELD]);
    }
    const workdir = await build(`FROM ${busybox}\nWORKDIR /proc/self/fd/7\nRUN true\n`);
    expect(workdir.reason).toBe(ErrorReason.INVALID_FIELD);
    expect(workdir.message).toMatch(/WORKDIR .* leads into \/proc/);
    const viaArg = await build(
      `FROM ${busybox}\nARG D=/proc/self\nWORKDIR $D\nWORKDIR fd/8\nRUN true\n`,
    );
    expect(viaArg.reason).toBe(ErrorReason.INVALID_FIELD);
    const huge = await build(simple, [
      { path: "big.bin", content: Buffer.alloc(33 * 1024 * 1024) },
    ]);
    expect(huge.reason).toBe(ErrorReason.PAYLOAD_TOO_LARGE);
    expect(docker(["images", "-q", `cove-test/hostile:${run}`]).trim()).toBe("");
  }, 60_000);

  test("build + push with credentials, remove, pull back: same digest; credentials never in messages or logs", async () => {
    const ref = `${registry.host}/cove/pushed:${run}`;
    tags.push(ref);
    const pushed = image(
      await h.run(
        {
          case: "buildSnapshotImage",
          value: {
            snapshotId: "snap-push",
            image: ref,
            push: true,
            registryCredentials: creds,
            dockerfile: { content: dockerfile(), contextFiles: context },
          },
        },
        `push-${run}`,
      ),
    );
    expect(pushed.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(h.logText(`push-${run}`)).toMatch(/Pushed|Layer already exists/);

    success(
      await h.run({ case: "removeSnapshotImage", value: { snapshotId: "snap-push", image: ref } }),
    );
    expect(docker(["images", "-q", ref]).trim()).toBe("");
    success(
      await h.run({ case: "removeSnapshotImage", value: { snapshotId: "snap-push", image: ref } }),
    );

    const pulled = image(
      await h.run(
        {
          case: "pullSnapshotImage",
          value: { snapshotId: "snap-push", image: ref, registryCredentials: creds },
        },
        `pull-${run}`,
      ),
    );
    expect(pulled.digest).toBe(pushed.digest);
    const pullProgress = h.progressOf(`pull-${run}`);
    expect(pullProgress.some((p) => p.stage === "pulling")).toBe(true);
    expect(h.logText(`pull-${run}`)).toMatch(/Digest: sha256:|Pull complete|Already exists/);
    // Held already: no second pull.
    const held = await h.run(
      {
        case: "pullSnapshotImage",
        value: { snapshotId: "snap-push", image: `${registry.host}/cove/pushed@${pushed.digest}` },
      },
      `held-${run}`,
    );
    expect(image(held).digest).toBe(pushed.digest);
    expect(h.logText(`held-${run}`)).toMatch(/already on this runner/);

    const wrong = failure(
      await h.run({
        case: "pullSnapshotImage",
        value: {
          snapshotId: "s",
          image: `${registry.host}/cove/other:${run}`,
          registryCredentials: { ...creds, password: `${password}-wrong` },
        },
      }),
    );
    expect(wrong.reason).toBe(ErrorReason.IMAGE_PULL_FAILED);
    expect(wrong.retryable).toBe(true);
    const missing = failure(
      await h.run({
        case: "pullSnapshotImage",
        value: {
          snapshotId: "s",
          image: `${registry.host}/cove/pushed:nosuchtag`,
          registryCredentials: creds,
        },
      }),
    );
    expect(missing.reason).toBe(ErrorReason.IMAGE_NOT_FOUND);

    const everything =
      JSON.stringify(h.outputs, (_k, v) => (typeof v === "bigint" ? String(v) : v)) +
      logs.lines.join("");
    expect(everything).not.toContain(password);
    expect(everything).not.toContain(Buffer.from(`cove:${password}`).toString("base64"));
  }, 240_000);

  test("an image in use is kept: SNAPSHOT_STATE_CONFLICT, retryable", async () => {
    // An image of its own (one tag), so removing the tag would delete it.
    const ref = `cove-test/inuse:${run}`;
    tags.push(ref);
    image(
      await h.run({
        case: "buildSnapshotImage",
        value: {
          snapshotId: "snap-use",
          image: ref,
          dockerfile: { content: `FROM ${busybox}\nLABEL run=${run}\n` },
        },
      }),
    );
    const container = docker(["create", "--label", `dev.cove.test=${label}`, ref, "true"]).trim();
    try {
      const err = failure(
        await h.run({ case: "removeSnapshotImage", value: { snapshotId: "snap-use", image: ref } }),
      );
      expect(err.reason).toBe(ErrorReason.SNAPSHOT_STATE_CONFLICT);
      expect(err.retryable).toBe(true);
    } finally {
      docker(["rm", "-f", container]);
    }
    success(
      await h.run({ case: "removeSnapshotImage", value: { snapshotId: "snap-use", image: ref } }),
    );
  }, 60_000);

  test("commit of a running sandbox + a sandbox from the image = fork: files, user and command carry over", async () => {
    const source = `rtimg${run.slice(-8)}a`;
    const fork = `rtimg${run.slice(-8)}b`;
    const ref = `cove-test/fork:${run}`;
    tags.push(ref);
    const spec = {
      organizationId: "org",
      image: base,
      resources: { cpuMillicores: 1000, memoryMib: 512 },
    };
    success(
      await h.run({ case: "createSandbox", value: { spec: { ...spec, sandboxId: source } } }),
    );
    await h.exec(
      source,
      "mkdir -p ~/work && echo 'written before the fork' > ~/work/note.txt && chmod 640 ~/work/note.txt",
    );
    const committed = image(
      await h.run(
        {
          case: "commitSandbox",
          value: { sandboxId: source, snapshotId: "snap-fork", image: ref },
        },
        `commit-${run}`,
      ),
    );
    expect(committed.digest).toBe(docker(["image", "inspect", "--format", "{{.Id}}", ref]).trim());
    // The image's own config, never the daemon kit's entrypoint.
    expect(
      JSON.parse(docker(["image", "inspect", "--format", "{{json .Config.Entrypoint}}", ref])) ??
        [],
    ).toEqual([]);
    expect(
      JSON.parse(docker(["image", "inspect", "--format", "{{json .Config.Cmd}}", ref])),
    ).toEqual(["sleep", "infinity"]);
    // The source kept running (it was only paused).
    expect((await h.exec(source, "echo alive")).out).toBe("alive\n");

    const created = success(
      await h.run({
        case: "createSandbox",
        value: { spec: { ...spec, sandboxId: fork, image: ref } },
      }),
    );
    expect(created.payload.case === "sandbox" && created.payload.value.sandbox?.state).toBe(
      SandboxState.STARTED,
    );
    const read = await h.exec(fork, "cat ~/work/note.txt; stat -c '%a %U' ~/work/note.txt; id -un");
    expect(read.out).toBe("written before the fork\n640 cove\ncove\n");
    // The fork is its own sandbox: writes do not reach the source.
    await h.exec(fork, "echo fork-only > ~/work/fork.txt");
    expect((await h.exec(source, "ls ~/work")).out).toBe("note.txt\n");

    const again = image(
      await h.run({
        case: "commitSandbox",
        value: { sandboxId: source, snapshotId: "snap-fork", image: ref },
      }),
    );
    expect(again.digest).toBe(committed.digest);
    for (const id of [source, fork])
      success(await h.run({ case: "destroySandbox", value: { sandboxId: id } }));
    const gone = failure(
      await h.run({
        case: "commitSandbox",
        value: { sandboxId: source, snapshotId: "s", image: `cove-test/none:${run}` },
      }),
    );
    expect(gone.reason).toBe(ErrorReason.SANDBOX_NOT_FOUND);
  }, 240_000);
});
