// "Any image works": the daemon kit brings its own runtime, so a Debian image without Node, a
// busybox image and a distroless-style image with no shell at all (FROM scratch + one static
// binary) each answer Exec and file calls through the runner's toolbox gateway. The images are
// built by the runner itself (BuildSnapshotImage through the control stream).
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createLogger } from "@cove/common";
import type { CommandResult } from "@cove/gen-ts/cove/runner/v1/runner_pb.js";
import { SandboxState } from "@cove/gen-ts/cove/sandbox/v1/sandbox_pb.js";
import { FilesystemService } from "@cove/gen-ts/cove/toolbox/v1/filesystem_service_pb.js";
import { ProcessService } from "@cove/gen-ts/cove/toolbox/v1/process_service_pb.js";
import { buildKit } from "../../daemon/scripts/build-kit.mjs";
import {
  docker,
  dockerUnreachableReason,
  ensureNoNodeImage,
} from "../../daemon/test/docker-images.js";
import { ensureBaseImage } from "../../scripts/build-base-image.mjs";
import { type Runner, startRunner } from "../src/app.js";
import { removeImages } from "./executor-harness.js";
import { FakeControlPlane } from "./fake-control-plane.js";

const unreachable = dockerUnreachableReason();
const required = process.env.COVE_REQUIRE_DOCKER === "1";
const describeWithDocker = unreachable !== undefined && !required ? describe.skip : describe;
if (unreachable !== undefined && !required)
  console.warn(`Skipping the any-image tests: ${unreachable}`);

const label = "runner-any-image";
const token = "any-image-token";
const gatewayToken = "any-image-gateway";
const run = Date.now().toString(36).slice(-6);
const text = (b: Uint8Array) => Buffer.from(b).toString("utf8");

describeWithDocker("any x86_64 image runs as a sandbox", () => {
  let plane: FakeControlPlane;
  let runner: Runner;
  let dataDir: string;
  let n = 0;
  const images: Record<string, string> = {};

  const command = async (
    body: Parameters<FakeControlPlane["send"]>[0]["command"],
  ): Promise<CommandResult> => {
    const commandId = `any-${++n}`;
    plane.send({ commandId, command: body });
    const result = await plane.result(commandId, 300_000);
    if (result.outcome.case !== "success")
      throw new Error(`${body?.case} failed: ${JSON.stringify(result.outcome.value)}`);
    return result;
  };
  const transport = (sandboxId: string) => {
    const headers: Interceptor = (next) => (req) => {
      req.header.set("cove-sandbox-id", sandboxId);
      req.header.set("cove-gateway-token", gatewayToken);
      return next(req);
    };
    return createGrpcTransport({ baseUrl: runner.gatewayUrl, interceptors: [headers] });
  };
  const build = async (
    name: string,
    dockerfile: string,
    contextFiles: Array<{ path: string; content: Buffer; mode?: number }> = [],
  ) => {
    const image = `cove-test/any-${name}:${run}`;
    await command({
      case: "buildSnapshotImage",
      value: {
        snapshotId: `snap-${name}`,
        image,
        dockerfile: { content: dockerfile, contextFiles },
      },
    });
    return image;
  };

  beforeAll(async () => {
    if (unreachable !== undefined) throw new Error(`COVE_REQUIRE_DOCKER=1 but: ${unreachable}`);
    const kit = await buildKit({ log: () => {} });
    const base = (await ensureBaseImage({ log: () => {} })).image;
    const busybox = ensureNoNodeImage();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "cove-any-image-"));
    plane = new FakeControlPlane(token);
    await plane.start();
    runner = await startRunner(
      {
        runnerId: `any-image-${run}`,
        name: "any-image",
        region: "local",
        serverUrl: plane.url,
        token,
        gatewayListen: { host: "127.0.0.1", port: 0 },
        gatewayUrl: undefined,
        gatewayToken,
        dataDir,
        kitDir: kit.dir,
        defaultRuntime: "",
        capacity: { cpuMillicores: 2000, memoryMib: 4096, diskMib: 0, maxSandboxes: 10 },
      },
      createLogger({ level: "silent" }),
      { extraLabels: { "dev.cove.test": label } },
    );
    await plane.connections(1);
    images.debian = await build(
      "debian",
      `FROM ${base}\nRUN rm -rf /usr/bin/node /usr/bin/npm /usr/bin/npx /usr/local/bin/* /usr/local/lib/node_modules /usr/lib/node_modules\nUSER cove\n`,
    );
    images.busybox = busybox;
    images.distroless = await build(
      "distroless",
      'FROM scratch\nCOPY app /app/\nCMD ["/app/busybox", "sleep", "2147483647"]\n',
      [{ path: "app/busybox", content: fs.readFileSync("/bin/busybox"), mode: 0o755 }],
    );
  }, 600_000);

  afterAll(async () => {
    await runner?.stop();
    await plane?.kill();
    for (const id of docker(["ps", "-aq", "--filter", `label=dev.cove.test=${label}`])
      .trim()
      .split("\n")
      .filter(Boolean)) {
      docker(["rm", "-f", "-v", id]);
    }
    removeImages(
      label,
      Object.values(images).filter((i) => i.startsWith("cove-test/any-")),
    );
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  test("the hello lists the runner's images", () => {
    const hello = plane.hellos[0];
    expect(hello?.images.some((i) => i.image === images.busybox && /^sha256:/.test(i.digest))).toBe(
      true,
    );
  });

  test("the build log reached the control plane as CommandProgress lines", () => {
    const lines = plane.progress.flatMap((p) => p.logLines.map((l) => l.text));
    expect(lines.some((l) => /^Step \d+\/\d+ : COPY app \/app\//.test(l))).toBe(true);
  });

  test.each([
    [
      "debian",
      "command -v node || echo no node; id -un; . /etc/os-release; echo $ID",
      "no node\ncove\ndebian\n",
    ],
    [
      "busybox",
      "command -v node || echo no node; id -un; busybox | head -1 | cut -d' ' -f1",
      "no node\ncove\nBusyBox\n",
    ],
  ])(
    "%s: Exec through the gateway and files",
    async (name, script, expected) => {
      const sandboxId = `rtany${run}${name.slice(0, 3)}`;
      const created = await command({
        case: "createSandbox",
        value: {
          spec: {
            sandboxId,
            organizationId: "org",
            image: images[name],
            resources: { cpuMillicores: 500, memoryMib: 256 },
          },
        },
      });
      expect(
        created.outcome.case === "success" &&
          created.outcome.value.payload.case === "sandbox" &&
          created.outcome.value.payload.value.sandbox?.state,
      ).toBe(SandboxState.STARTED);
      const res = await createClient(ProcessService, transport(sandboxId)).exec({
        program: { case: "command", value: script },
      });
      expect(text(res.stderr)).toBe("");
      expect(text(res.stdout)).toBe(expected);
      const files = createClient(FilesystemService, transport(sandboxId));
      await files.writeFile({ path: "notes/hello.txt", data: Buffer.from(`hello ${name}\n`) });
      let read = "";
      for await (const chunk of files.readFile({ path: "notes/hello.txt" }))
        read += text(chunk.data);
      expect(read).toBe(`hello ${name}\n`);
      await command({ case: "destroySandbox", value: { sandboxId } });
    },
    180_000,
  );

  test("distroless (no shell, no /etc/passwd): argv Exec and files work, a shell command says what is missing", async () => {
    const sandboxId = `rtany${run}dis`;
    await command({
      case: "createSandbox",
      value: {
        spec: {
          sandboxId,
          organizationId: "org",
          image: images.distroless,
          resources: { cpuMillicores: 500, memoryMib: 256 },
        },
      },
    });
    const proc = createClient(ProcessService, transport(sandboxId));
    const argv = (...args: string[]) => proc.exec({ program: { case: "argv", value: { args } } });
    const echo = await argv("/app/busybox", "echo", "no shell here");
    expect(text(echo.stdout)).toBe("no shell here\n");
    expect(text((await argv("/app/busybox", "id", "-u")).stdout)).toBe("0\n");
    const shell = await proc.exec({ program: { case: "command", value: "echo hi" } }).then(
      (r) => `exit ${r.exitCode}: ${text(r.stderr)}`,
      (e: Error) => e.message,
    );
    expect(shell).toMatch(/cannot run \/bin\/sh: no such file or directory/);
    const files = createClient(FilesystemService, transport(sandboxId));
    await files.writeFile({ path: "/data/hello.txt", data: Buffer.from("hello distroless\n") });
    let read = "";
    for await (const chunk of files.readFile({ path: "/data/hello.txt" })) read += text(chunk.data);
    expect(read).toBe("hello distroless\n");
    expect(text((await argv("/app/busybox", "cat", "/data/hello.txt")).stdout)).toBe(
      "hello distroless\n",
    );
    await command({ case: "destroySandbox", value: { sandboxId } });
  }, 60_000);
});
