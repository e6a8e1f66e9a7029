// Per-sandbox disk limits on the real engine (overlay2 on ext4, where StorageOpt size does not
// work): a sandbox filling its disk anywhere it can write gets ENOSPC, by blocks and by inodes,
// its daemon keeps answering, a neighbour and the host are untouched, the limit survives
// stop/start, and destroy leaves no image, mount or loop device behind.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { createClient, type Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createLogger } from "@cove/common";
import { ProcessService } from "@cove/gen-ts/cove/toolbox/v1/process_service_pb.js";
import Dockerode from "dockerode";
import { buildKit } from "../../daemon/scripts/build-kit.mjs";
import { ensureBaseImage } from "../../scripts/build-base-image.mjs";
import { isMountPoint, SandboxDisks } from "../src/disk/sandbox-disks.js";
import { DockerDriver } from "../src/domain/docker-driver.js";
import type { SandboxSpec } from "../src/domain/sandbox-driver.js";

const testLabel = { "dev.cove.test": "disk" };

function unreachableReason(): string | undefined {
  if (process.getuid?.() !== 0) return "not root (loop devices and mounts need root)";
  const docker = spawnSync("docker", ["info", "--format", "{{.Driver}}"], {
    encoding: "utf8",
    timeout: 15_000,
  });
  if (docker.status !== 0) return "the Docker engine is not reachable";
  if (docker.stdout.trim() !== "overlay2")
    return `the storage driver is ${docker.stdout.trim()}, not overlay2`;
  return undefined;
}
const unreachable = unreachableReason();
const required = process.env.COVE_REQUIRE_DOCKER === "1";
if (unreachable !== undefined && !required)
  console.warn(`Skipping the disk limit tests: ${unreachable}`);
const describeDisk = unreachable !== undefined && !required ? describe.skip : describe;

const run = randomBytes(3).toString("hex");
const sid = (name: string) => `dk${run}${name}`;
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

function unixTransport(socketPath: string): Transport {
  return createGrpcTransport({
    baseUrl: "http://daemon.local",
    nodeOptions: { createConnection: () => net.connect(socketPath) },
    defaultTimeoutMs: 60_000,
  });
}

describeDisk("per-sandbox disk limits", () => {
  const docker = new Dockerode();
  const logger = createLogger({ level: process.env.COVE_TEST_LOG === "1" ? "debug" : "silent" });
  let driver: DockerDriver;
  let disks: SandboxDisks;
  let dataDir: string;
  let image: string;
  const a = sid("a");
  const b = sid("b");

  const exec = async (sandboxId: string, command: string, user = "") => {
    const client = createClient(ProcessService, unixTransport(driver.socketPath(sandboxId)));
    const res = await client.exec({
      program: { case: "command", value: command },
      user,
      timeout: { seconds: 60n, nanos: 0 },
    });
    return { code: res.exitCode, out: text(res.stdout), err: text(res.stderr) };
  };

  const spec = (sandboxId: string, diskMib: number): SandboxSpec => ({
    sandboxId,
    organizationId: "org-test",
    image,
    cpuMillicores: 1000,
    memoryMib: 256,
    diskMib,
    env: {},
    labels: {},
    osUser: "",
    network: "none",
    runtime: "",
  });

  beforeAll(async () => {
    if (unreachable !== undefined) throw new Error(`COVE_REQUIRE_DOCKER=1 but ${unreachable}`);
    const kit = await buildKit({ log: () => {} });
    image = (await ensureBaseImage({ log: () => {} })).image;
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "cove-disk-test-"));
    disks = new SandboxDisks({ dataDir, logger });
    driver = new DockerDriver({
      docker,
      kitDir: kit.dir,
      kitEntrypoint: kit.manifest.entrypoint,
      dataDir,
      defaultRuntime: "",
      logger,
      startTimeoutMs: 20_000,
      extraLabels: testLabel,
      hooks: [disks],
    });
  }, 600_000);

  afterAll(async () => {
    const leftovers = await docker.listContainers({
      all: true,
      filters: { label: ["dev.cove.test=disk"] },
    });
    for (const c of leftovers)
      await docker
        .getContainer(c.Id)
        .remove({ force: true, v: true })
        .catch(() => {});
    for (const id of [a, b]) await disks?.removed(id).catch(() => {});
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  test("filling / , /tmp and /home stops at the limit with ENOSPC; the daemon still answers", async () => {
    const hostFreeBefore = fs.statfsSync(dataDir).bavail * fs.statfsSync(dataDir).bsize;
    await driver.create(spec(a, 64));
    await driver.start(a);
    const df = await exec(a, "df -m / | tail -1 | awk '{print $2}'");
    expect(Number(df.out)).toBeGreaterThan(50);
    expect(Number(df.out)).toBeLessThanOrEqual(64);

    const fill = await exec(
      a,
      "dd if=/dev/zero of=/home/cove/fill bs=1M count=200 2>&1; echo exit=$?",
    );
    expect(fill.out).toMatch(/No space left on device/);
    expect(fill.out).toMatch(/exit=1/);
    for (const [where, user] of [
      ["/tmp/more", ""],
      ["/var/more", "root"],
      ["/more", "root"],
    ] as const) {
      const more = await exec(
        a,
        `dd if=/dev/zero of=${where} bs=1M count=5 2>&1; echo exit=$?`,
        user,
      );
      expect(more.out).toMatch(/No space left on device/);
    }
    // The socket directory is a host bind mount: bounded too.
    const sock = await exec(
      a,
      "dd if=/dev/zero of=/run/cove/fill bs=1M count=5 2>&1; echo exit=$?",
      "root",
    );
    expect(sock.out).toMatch(/No space left on device/);
    expect((await exec(a, "echo alive")).out).toBe("alive\n");

    // The host's disk lost at most the sandbox's limit (plus a little metadata).
    const used = fs.statSync(disks.imagePath(a)).blocks * 512;
    expect(used).toBeLessThanOrEqual(66 * 1024 * 1024);
    const hostFreeAfter = fs.statfsSync(dataDir).bavail * fs.statfsSync(dataDir).bsize;
    expect(hostFreeBefore - hostFreeAfter).toBeLessThan(200 * 1024 * 1024);
  }, 180_000);

  test("a neighbour keeps its own disk; inodes run out with ENOSPC too", async () => {
    await driver.create(spec(b, 64));
    await driver.start(b);
    const write = await exec(
      b,
      "dd if=/dev/zero of=/home/cove/ten bs=1M count=10 2>&1; echo exit=$?",
    );
    expect(write.out).toMatch(/exit=0/);
    const inodes = await exec(
      b,
      "python3 -c \"import os\nos.makedirs('/tmp/i', exist_ok=True)\ntry:\n  for n in range(10**6): open(f'/tmp/i/{n}', 'w').close()\nexcept OSError as e: print(e.errno, n)\"",
    );
    const [errno, count] = inodes.out.trim().split(" ").map(Number);
    expect(errno).toBe(28);
    expect(count).toBeGreaterThan(1000);
    expect(count).toBeLessThan(100_000);
    // Freeing files frees the disk again.
    expect((await exec(b, "rm -rf /tmp/i && touch /tmp/ok && echo ok")).out).toBe("ok\n");
  }, 180_000);

  test("stop/start keeps the files and the limit; destroy removes image, mounts and loop device", async () => {
    await driver.stop(a, 2_000);
    await driver.start(a);
    expect(
      (await exec(a, "ls -s --block-size=M /home/cove/fill | cut -dM -f1")).out.trim(),
    ).not.toBe("0");
    expect((await exec(a, "dd if=/dev/zero of=/tmp/again bs=1M count=5 2>&1")).out).toMatch(
      /No space left on device/,
    );

    const info = await docker.getContainer(a).inspect();
    const graph = info.GraphDriver as { Data?: Record<string, string> };
    const layer = path.dirname(graph.Data?.UpperDir ?? "");
    expect(isMountPoint(layer)).toBe(true);
    const imageFile = disks.imagePath(a);
    await driver.destroy(a);
    await driver.destroy(b);
    expect(fs.existsSync(imageFile)).toBe(false);
    expect(isMountPoint(layer)).toBe(false);
    expect(fs.readFileSync("/proc/self/mountinfo", "utf8")).not.toContain(dataDir);
    const loops = spawnSync("losetup", ["-a"], { encoding: "utf8" }).stdout;
    expect(loops).not.toContain(dataDir);
  }, 120_000);
});
