// The daemon kit in a real container: an image with no Node (static busybox only) runs the
// daemon from the read-only kit, the host talks to it over the bind-mounted unix socket, and
// cove-init forwards signals and reaps orphans. Needs the Docker engine (`npm test` starts it).
import { createClient } from "@connectrpc/connect";
import { FilesystemService } from "@cove/gen-ts/cove/toolbox/v1/filesystem_service_pb.js";
import { ProcessService } from "@cove/gen-ts/cove/toolbox/v1/process_service_pb.js";
import { buildKit, type KitManifest } from "../scripts/build-kit.mjs";
import { docker, dockerUnreachableReason, ensureNoNodeImage } from "./docker-images.js";
import {
  containerLogs,
  type KitContainer,
  removeStartedContainers,
  startKitContainer,
} from "./kit-container.js";

const unreachable = dockerUnreachableReason();
// CI sets COVE_REQUIRE_DOCKER=1: there a missing engine is a failure, not a skip.
const required = process.env.COVE_REQUIRE_DOCKER === "1";
if (unreachable !== undefined && !required) {
  console.warn(
    `Skipping the daemon kit tests: the Docker engine is not reachable (${unreachable})`,
  );
}
const describeWithDocker = unreachable !== undefined && !required ? describe.skip : describe;

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

describeWithDocker("daemon kit in an image without Node", () => {
  let manifest: KitManifest;
  let container: KitContainer;

  beforeAll(async () => {
    if (unreachable !== undefined) {
      throw new Error(`COVE_REQUIRE_DOCKER=1 but Docker is not reachable: ${unreachable}`);
    }
    const kit = await buildKit({ log: () => {} });
    manifest = kit.manifest;
    container = await startKitContainer({
      kitDir: kit.dir,
      entrypoint: manifest.entrypoint,
      image: ensureNoNodeImage(),
      // The image's own command, which the daemon supervises and stops with itself.
      command: ["sh", "-c", 'echo "$SANDBOX_GREETING" > /tmp/entry.txt; exec sleep 86400'],
      // The container's environment reaches user commands but never the daemon's Node: a
      // bogus NODE_OPTIONS would stop Node from starting at all.
      env: { SANDBOX_GREETING: "hello from the image", NODE_OPTIONS: "--no-such-node-flag" },
    });
    console.info(`kit container healthy ${Math.round(container.startToHealthyMs)} ms after run`);
  }, 180_000);

  afterAll(() => {
    container?.remove();
    removeStartedContainers();
  });

  const exec = async (command: string, user = "") => {
    const res = await createClient(ProcessService, container.transport).exec({
      program: { case: "command", value: command },
      user,
    });
    return { ...res, out: text(res.stdout), err: text(res.stderr) };
  };

  test("the manifest describes the fixed argv and every file with its hash", () => {
    expect(manifest.entrypoint).toEqual([
      "/cove/bin/cove-init",
      "--daemon-env",
      "/cove/lib/ld-linux-x86-64.so.2",
      "--library-path",
      "/cove/lib",
      "/cove/bin/node",
      "/cove/app/daemon.mjs",
    ]);
    expect(manifest.node).toBe(process.version);
    const paths = manifest.files.map((f) => f.path);
    for (const file of ["bin/cove-init", "bin/node", "lib/libc.so.6", "app/daemon.mjs"]) {
      expect(paths).toContain(file);
    }
    expect(paths).toContain("app/node_modules/node-pty/build/Release/pty.node");
    expect(manifest.files.every((f) => /^[0-9a-f]{64}$/.test(f.sha256))).toBe(true);
  });

  test("user commands get the container's environment; the daemon runs without it", async () => {
    const res = await exec(
      'echo "$SANDBOX_GREETING|$NODE_OPTIONS"; tr "\\0" "\\n" < /proc/$(pgrep -f daemon.mjs | head -1)/environ',
    );
    const [line, ...daemonEnv] = res.out.trim().split("\n");
    expect(line).toBe("hello from the image|--no-such-node-flag");
    expect(daemonEnv.every((v) => v.startsWith("COVE_DAEMON_"))).toBe(true);
  });

  test("the image's own command runs with the container's environment", async () => {
    const res = await exec("cat /tmp/entry.txt");
    expect(res.out).toBe("hello from the image\n");
  });

  test("a timeout kills a detached (setsid) process of another user too", async () => {
    const res = await createClient(ProcessService, container.transport).exec({
      program: { case: "command", value: "(setsid sleep 101 &); sleep 30" },
      user: "cove",
      timeout: { seconds: 0n, nanos: 500_000_000 },
    });
    expect(res.timedOut).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    const left = await exec("ps -o pid,user,args | grep 'sleep 101' | grep -v grep || true");
    expect(left.out).toBe("");
  });

  test("Exec runs the image's own shell through the socket", async () => {
    const res = await exec("echo hello; id -u; command -v node || echo no node here");
    expect(res.err).toBe("");
    expect(res.out).toBe("hello\n0\nno node here\n");
    expect(res.exitCode).toBe(0);
  });

  test("Exec runs as the image's cove user (uid 1000)", async () => {
    const res = await exec("id -u; pwd", "cove");
    expect(res.out).toBe("1000\n/home/cove\n");
  });

  test("commands do not inherit the kit's library path or libraries", async () => {
    const res = await exec(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion.
      'echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH-unset}"; grep /cove/ /proc/self/maps || echo clean',
    );
    expect(res.out).toBe("LD_LIBRARY_PATH=unset\nclean\n");
  });

  test("node-pty's native addon loads from the kit and opens a terminal", async () => {
    // The image has no libstdc++: pty.node can only load with the kit's libraries.
    const script = `const pty = require("/cove/app/node_modules/node-pty");
      const term = pty.spawn("/bin/sh", ["-c", "tty"], {});
      term.onData((d) => process.stdout.write(d));`;
    const res = await createClient(ProcessService, container.transport).exec({
      program: {
        case: "argv",
        value: { args: [...manifest.entrypoint.slice(2, 6), "-e", script] },
      },
      // This command runs the kit's Node as user code, with the container's environment.
      env: { NODE_OPTIONS: "" },
    });
    expect(text(res.stderr)).toBe("");
    expect(text(res.stdout)).toMatch(/^\/dev\/pts\/\d+/);
  });

  test("the kit is mounted read-only", async () => {
    const res = await exec("touch /cove/bin/x 2>&1; echo $?");
    expect(res.out).toMatch(/Read-only file system\n1\n$/);
  });

  test("a file written with WriteFile reads back byte for byte", async () => {
    const fsClient = createClient(FilesystemService, container.transport);
    const data = new Uint8Array(70_000).map((_, i) => (i * 31 + 7) % 256);
    await fsClient.writeFile({ path: "/tmp/kit-round-trip.bin", data });
    const chunks: Uint8Array[] = [];
    for await (const msg of fsClient.readFile({ path: "/tmp/kit-round-trip.bin" })) {
      if (msg.data.length > 0) chunks.push(msg.data);
    }
    expect(Buffer.concat(chunks).equals(Buffer.from(data))).toBe(true);
    expect((await exec("wc -c < /tmp/kit-round-trip.bin")).out.trim()).toBe("70000");
  });

  test("cove-init reaps orphaned processes: no zombies remain", async () => {
    const orphans = await exec(
      "for i in 1 2 3 4 5; do sleep 0.2 >/dev/null 2>&1 & done; exec true",
    );
    expect(orphans.exitCode).toBe(0);
    const zombies = async () => {
      const res = await exec("cat /proc/[0-9]*/stat 2>/dev/null");
      const stats = res.out.split("\n").filter((line) => line.length > 0);
      expect(stats.length).toBeGreaterThan(2);
      // Fields after "pid (comm)": state, ppid, …; comm may hold spaces and parentheses.
      return stats.filter((line) => line.slice(line.lastIndexOf(")") + 2).startsWith("Z"));
    };
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(await zombies()).toEqual([]);
  });

  test("docker stop ends the container in well under 2 s with exit code 0 or 143", () => {
    const begin = performance.now();
    docker(["stop", "--time", "10", container.name]);
    const stopMs = performance.now() - begin;
    console.info(`docker stop of the kit container took ${Math.round(stopMs)} ms`);
    const exitCode = Number(docker(["inspect", "--format", "{{.State.ExitCode}}", container.name]));
    expect([0, 143]).toContain(exitCode);
    expect(stopMs).toBeLessThan(3_000);
    expect(containerLogs(container.name)).toMatch(/serving the toolbox/);
  });
});
