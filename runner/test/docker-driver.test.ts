// The Docker driver against the real engine: the sandbox lifecycle through the daemon's socket,
// idempotency, every hardening setting proven by `docker inspect` and from inside the sandbox,
// the attacks a sandbox must survive (fork bomb, memory bomb, kernel surface, neighbours on the
// egress bridge), and the reasons a failed sandbox reports. Needs the Docker engine.

import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { createClient, type Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { CoveError, createLogger } from "@cove/common";
import { ProcessService } from "@cove/gen-ts/cove/toolbox/v1/process_service_pb.js";
import Dockerode from "dockerode";
import { buildKit } from "../../daemon/scripts/build-kit.mjs";
import { ensureBaseImage } from "../../scripts/build-base-image.mjs";
import { checkDaemonHealth } from "../src/domain/daemon-health.js";
import { classifyContainer, DockerDriver, resolveDaemonUser } from "../src/domain/docker-driver.js";
import {
  buildCreateOptions,
  type ContainerPlan,
  capabilityMask,
  defaultHardeningPolicy,
  EGRESS_NETWORK,
  SANDBOX_CAPABILITIES,
  safeWorkingDir,
} from "../src/domain/hardening.js";
import type { SandboxSpec } from "../src/domain/sandbox-driver.js";

/** The label on every container this test creates: `docker rm -f $(docker ps -aq --filter label=dev.cove.test=runner)`. */
const testLabel = { "dev.cove.test": "runner" };

function dockerUnreachableReason(): string | undefined {
  const result = spawnSync("docker", ["info", "--format", "{{.ServerVersion}}"], {
    encoding: "utf8",
    timeout: 15_000,
  });
  if (result.error) return `docker CLI: ${result.error.message}`;
  if (result.status !== 0) return result.stderr.trim() || `docker info exited ${result.status}`;
  return undefined;
}

const unreachable = dockerUnreachableReason();
// CI sets COVE_REQUIRE_DOCKER=1: there a missing engine is a failure, not a skip.
const required = process.env.COVE_REQUIRE_DOCKER === "1";
if (unreachable !== undefined && !required) {
  console.warn(`Skipping the Docker driver tests: the engine is not reachable (${unreachable})`);
}
const describeWithDocker = unreachable !== undefined && !required ? describe.skip : describe;

const run = randomBytes(3).toString("hex");
/** The OCI runtime the engine tests run under: "" (the engine's default, runc) or "runsc" (gVisor). */
const runtime = process.env.COVE_TEST_RUNTIME ?? "";
/** gVisor runs the sandbox on its own kernel: some checks look different there (and say why). */
const gvisor = runtime === "runsc";
/** A fresh sandbox id for this run. */
const sid = (name: string) => `rt${run}${name}`;

function spec(overrides: Partial<SandboxSpec> & { sandboxId: string }): SandboxSpec {
  return {
    organizationId: "org-test",
    image: "",
    cpuMillicores: 1000,
    memoryMib: 256,
    diskMib: 0,
    env: {},
    labels: {},
    osUser: "",
    network: "none",
    runtime: "",
    ...overrides,
  };
}

/** expectCoveError awaits p and checks it failed with a CoveError of this reason. */
async function expectCoveError(p: Promise<unknown>, reason: string): Promise<CoveError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CoveError);
  expect((err as CoveError).reason).toBe(reason);
  return err as CoveError;
}

function unixTransport(socketPath: string): Transport {
  return createGrpcTransport({
    baseUrl: "http://daemon.local",
    nodeOptions: { createConnection: () => net.connect(socketPath) },
    defaultTimeoutMs: 30_000,
  });
}

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** baseImage builds (or reuses) the sandbox base image and returns its tag. */
async function baseImage(): Promise<string> {
  return (await ensureBaseImage({ log: () => {} })).image;
}

describe("hardening options (pure)", () => {
  const plan: ContainerPlan = {
    spec: spec({ sandboxId: "abc123", image: "img", env: { FOO: "bar" }, labels: { team: "x" } }),
    name: "abc123",
    imageId: "sha256:0123",
    imageCommand: ["sleep", "infinity"],
    workingDir: "/home/cove",
    kitDir: "/opt/kit",
    kitEntrypoint: ["/cove/bin/cove-init", "--daemon-env", "/cove/app"],
    runDir: "/var/lib/cove/sandboxes/abc123/run",
    daemonUser: "cove",
    daemonHome: "/home/cove",
    runtime: "",
    policy: { ...defaultHardeningPolicy, diskQuotaSupported: false },
  };

  test("drops every capability but the documented six and isolates the container", () => {
    const opts = buildCreateOptions(plan);
    const host = opts.HostConfig;
    expect(host.CapDrop).toEqual(["ALL"]);
    expect(host.CapAdd).toEqual(["CHOWN", "DAC_OVERRIDE", "FOWNER", "KILL", "SETGID", "SETUID"]);
    expect(host.SecurityOpt).toEqual(["no-new-privileges:true"]);
    expect(host.NetworkMode).toBe("none");
    expect(host.Privileged).toBe(false);
    expect(host.Init).toBe(false);
    expect(host.Memory).toBe(256 * 1024 * 1024);
    expect(host.MemorySwap).toBe(host.Memory);
    expect(host.NanoCpus).toBe(1_000_000_000);
    expect(host.PidsLimit).toBe(512);
    expect(host.StorageOpt).toBeUndefined();
    expect(host.Mounts).toEqual([
      expect.objectContaining({ Source: "/opt/kit", Target: "/cove", ReadOnly: true }),
      expect.objectContaining({ Source: plan.runDir, Target: "/run/cove", ReadOnly: false }),
    ]);
    expect(opts.Entrypoint).toEqual(plan.kitEntrypoint);
    expect(opts.Cmd).toEqual(["sleep", "infinity"]);
    expect(opts.User).toBe("0:0");
    expect(opts.Hostname).toBe("abc123");
    expect(opts.Env).toEqual([
      "FOO=bar",
      "COVE_DAEMON_SOCKET=/run/cove/daemon.sock",
      "COVE_DAEMON_USER=cove",
      "COVE_DAEMON_HOME=/home/cove",
      "COVE_DAEMON_SANDBOX_ENV=parent",
    ]);
    expect(opts.Labels).toEqual({
      "dev.cove.label.team": "x",
      "dev.cove.managed": "true",
      "dev.cove.sandbox-id": "abc123",
      "dev.cove.organization-id": "org-test",
      "dev.cove.network": "none",
    });
  });

  test("network all joins the egress bridge; a disk quota is set only where enforceable", () => {
    const opts = buildCreateOptions({
      ...plan,
      spec: { ...plan.spec, network: "all", diskMib: 2048 },
      policy: { ...plan.policy, diskQuotaSupported: true },
    });
    expect(opts.HostConfig.NetworkMode).toBe(EGRESS_NETWORK);
    expect(opts.HostConfig.StorageOpt).toEqual({ size: "2048M" });
  });

  test("rejects ids, env and users that must never reach Docker", () => {
    const bad = (s: Partial<SandboxSpec>) => () =>
      buildCreateOptions({ ...plan, spec: { ...plan.spec, ...s } });
    expect(bad({ sandboxId: "../etc" })).toThrow(/sandboxId/);
    expect(bad({ sandboxId: "Upper" })).toThrow(/sandboxId/);
    expect(bad({ env: { COVE_DAEMON_SOCKET: "/tmp/x" } })).toThrow(/reserved/);
    expect(bad({ env: { "A=B": "1" } })).toThrow(/variable name/);
    expect(bad({ env: { A: "x\0y" } })).toThrow(/NUL/);
    expect(bad({ memoryMib: 4 })).toThrow(/memoryMib/);
    expect(bad({ osUser: "a:b" })).toThrow(/osUser/);
  });

  test("an image WORKDIR under /proc, /sys or /dev (CVE-2024-21626) becomes /", () => {
    expect(safeWorkingDir("/proc/self/fd/7")).toBe("/");
    expect(safeWorkingDir("/app/../proc/self/fd/7")).toBe("/");
    expect(safeWorkingDir("relative")).toBe("/");
    expect(safeWorkingDir("/srv//app/")).toBe("/srv/app");
  });

  test("the default user: spec, then image USER, then cove, then root", () => {
    const passwd = [
      { name: "root", uid: "0", home: "/root" },
      { name: "cove", uid: "1000", home: "/home/cove" },
      { name: "app", uid: "1001", home: "/srv" },
    ];
    expect(resolveDaemonUser("", "", passwd)).toEqual({ user: "cove", home: "/home/cove" });
    expect(resolveDaemonUser("", "app:app", passwd)).toEqual({ user: "app", home: "/srv" });
    expect(resolveDaemonUser("root", "app", passwd)).toEqual({ user: "", home: "/root" });
    expect(resolveDaemonUser("", "", passwd.slice(0, 1))).toEqual({ user: "", home: "/root" });
    expect(resolveDaemonUser("4242", "", passwd)).toEqual({ user: "4242", home: "/" });
    expect(() => resolveDaemonUser("nobody-here", "", passwd)).toThrow(/no user/);
  });

  test("container states map to observed states and reasons", () => {
    const state = (s: Partial<Dockerode.ContainerInspectInfo["State"]>) =>
      ({ Status: "exited", ExitCode: 0, OOMKilled: false, Error: "", ...s }) as never;
    expect(classifyContainer(state({ Status: "running" }), 0, false).state).toBe("started");
    expect(classifyContainer(state({ Status: "created" }), 0, false).state).toBe("created");
    expect(classifyContainer(state({ ExitCode: 137 }), 0, true)).toMatchObject({
      state: "stopped",
      errorReason: "",
    });
    expect(
      classifyContainer(state({ ExitCode: 137, OOMKilled: true }), 1 << 28, false),
    ).toMatchObject({
      state: "error",
      errorReason: "OUT_OF_MEMORY",
      errorMessage: expect.stringMatching(/256 MiB/),
    });
    expect(classifyContainer(state({ ExitCode: 1 }), 0, false)).toMatchObject({
      state: "error",
      errorReason: "SANDBOX_EXITED",
    });
    expect(classifyContainer(state({ Status: "created", Error: "oci" }), 0, false)).toMatchObject({
      state: "error",
      errorReason: "SANDBOX_START_FAILED",
    });
    expect(classifyContainer(state({ Status: "dead" }), 0, false).state).toBe("error");
  });
});

describeWithDocker(`DockerDriver against the Docker engine (${runtime || "runc"})`, () => {
  const docker = new Dockerode();
  const logger = createLogger({ level: process.env.COVE_TEST_LOG === "1" ? "debug" : "silent" });
  let dataDir: string;
  let image: string;
  let kitDir: string;
  let kitEntrypoint: string[];
  let driver: DockerDriver;
  let egressExisted = false;
  /** Sandbox A: the default-network sandbox most tests run in (256 MiB, 128 pids). */
  const a = sid("a");
  /** Sandbox B: network "all", the neighbour during the memory bomb. */
  const b = sid("b");

  const exec = async (sandboxId: string, command: string, user = "", timeoutSeconds = 30) => {
    const client = createClient(ProcessService, unixTransport(driver.socketPath(sandboxId)));
    const res = await client.exec({
      program: { case: "command", value: command },
      user,
      timeout: { seconds: BigInt(timeoutSeconds), nanos: 0 },
    });
    return { ...res, out: text(res.stdout), err: text(res.stderr) };
  };

  const countContainers = async (sandboxId: string) =>
    (
      await docker.listContainers({
        all: true,
        filters: { label: [`dev.cove.sandbox-id=${sandboxId}`] },
      })
    ).length;

  beforeAll(async () => {
    if (unreachable !== undefined) {
      throw new Error(`COVE_REQUIRE_DOCKER=1 but Docker is not reachable: ${unreachable}`);
    }
    const kit = await buildKit({ log: () => {} });
    kitDir = kit.dir;
    kitEntrypoint = kit.manifest.entrypoint;
    image = await baseImage();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "cove-runner-test-"));
    egressExisted = await docker
      .getNetwork(EGRESS_NETWORK)
      .inspect()
      .then(
        () => true,
        () => false,
      );
    driver = new DockerDriver({
      docker,
      kitDir,
      kitEntrypoint,
      dataDir,
      defaultRuntime: runtime,
      logger,
      pidsLimit: 128,
      startTimeoutMs: 20_000,
      extraLabels: testLabel,
    });
  }, 600_000);

  afterAll(async () => {
    const leftovers = await docker.listContainers({
      all: true,
      filters: { label: ["dev.cove.test=runner"] },
    });
    await Promise.all(
      leftovers.map((c) =>
        docker
          .getContainer(c.Id)
          .remove({ force: true, v: true })
          .catch(() => {}),
      ),
    );
    if (!egressExisted) {
      await docker
        .getNetwork(EGRESS_NETWORK)
        .remove()
        .catch(() => {});
    }
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  test("create → start → Exec → stop → start → Exec, with the sandbox's env and default user", async () => {
    const begin = performance.now();
    const created = await driver.create(
      spec({ sandboxId: a, image, env: { GREETING: "hello" }, labels: { suite: "driver" } }),
    );
    expect(created).toMatchObject({ sandboxId: a, state: "created", errorReason: "" });
    expect(created.imageDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(created.daemonSocketPath).toBe(path.join(dataDir, "sandboxes", a, "run", "daemon.sock"));
    const started = await driver.start(a);
    const createToHealthyMs = performance.now() - begin;
    console.info(`create → daemon healthy: ${Math.round(createToHealthyMs)} ms`);
    expect(started.state).toBe("started");

    const first = await exec(a, 'echo "$GREETING"; id -un; pwd; hostname');
    expect(first.out).toBe(`hello\ncove\n/home/cove\n${a}\n`);
    await exec(a, "echo persisted > ~/note");

    const stopBegin = performance.now();
    expect((await driver.stop(a, 5_000)).state).toBe("stopped");
    expect(performance.now() - stopBegin).toBeLessThan(3_000);
    expect(await driver.inspect(a)).toMatchObject({ state: "stopped", errorReason: "" });

    expect((await driver.start(a)).state).toBe("started");
    const second = await exec(a, "cat ~/note");
    expect(second.out).toBe("persisted\n");

    const listed = await driver.list();
    expect(listed.find((o) => o.sandboxId === a)?.state).toBe("started");
  }, 60_000);

  test("create is idempotent (one container); start of a started sandbox only health-checks", async () => {
    const d = sid("d");
    const s = spec({ sandboxId: d, image, memoryMib: 128 });
    const [one, two] = await Promise.all([driver.create(s), driver.create(s)]);
    const three = await driver.create(s);
    expect([one.state, two.state, three.state]).toEqual(["created", "created", "created"]);
    expect(await countContainers(d)).toBe(1);

    await driver.start(d);
    const again = performance.now();
    expect((await driver.start(d)).state).toBe("started");
    expect(performance.now() - again).toBeLessThan(500);
    expect(await driver.create(s)).toMatchObject({ state: "started" });
    expect(await countContainers(d)).toBe(1);

    // The daemon killed from outside: an unexpected exit is an error with a reason …
    await docker.getContainer(d).kill({ signal: "SIGKILL" });
    const killed = await driver.inspect(d);
    expect(killed).toMatchObject({ state: "error", errorReason: "SANDBOX_EXITED" });
    expect(killed.errorMessage).toMatch(/code 137/);
    // … from which start recovers.
    expect((await driver.start(d)).state).toBe("started");

    expect((await driver.destroy(d)).state).toBe("missing");
    expect(await countContainers(d)).toBe(0);
    expect(fs.existsSync(path.join(dataDir, "sandboxes", d))).toBe(false);
  }, 60_000);

  test("stop, destroy and inspect of a missing sandbox succeed with state missing", async () => {
    const ghost = sid("ghost");
    expect((await driver.stop(ghost, 1_000)).state).toBe("missing");
    expect((await driver.destroy(ghost)).state).toBe("missing");
    expect((await driver.inspect(ghost)).state).toBe("missing");
    await expectCoveError(driver.start(ghost), "SANDBOX_NOT_FOUND");
  });

  test("docker inspect shows every hardening setting", async () => {
    const info = await docker.getContainer(a).inspect();
    const host = info.HostConfig as Dockerode.HostConfig & { CgroupnsMode?: string };
    expect(host.CapDrop).toEqual(["ALL"]);
    expect([...(host.CapAdd as string[])].sort()).toEqual([...SANDBOX_CAPABILITIES].sort());
    expect(host.SecurityOpt).toEqual(["no-new-privileges:true"]);
    expect(JSON.stringify(host.SecurityOpt)).not.toMatch(/unconfined/);
    expect(host.NetworkMode).toBe("none");
    expect(host.Memory).toBe(256 * 1024 * 1024);
    expect(host.MemorySwap).toBe(host.Memory);
    expect(host.PidsLimit).toBe(128);
    expect(host.NanoCpus).toBe(1_000_000_000);
    expect(host.Privileged).toBe(false);
    expect(host.ReadonlyRootfs).toBe(false);
    expect(host.Init).toBe(false);
    expect(host.PidMode).toBe("");
    expect(host.IpcMode).toBe("private");
    expect(host.CgroupnsMode).toBe("private");
    expect(host.UTSMode).toBe("");
    expect(host.Ulimits).toEqual(
      expect.arrayContaining([{ Name: "nofile", Soft: 16_384, Hard: 16_384 }]),
    );
    expect(info.Config.User).toBe("0:0");
    expect(info.Config.Healthcheck?.Test).toEqual(["NONE"]);
    expect(info.Config.Entrypoint).toEqual(kitEntrypoint);
    expect(info.Config.Labels).toMatchObject({
      "dev.cove.managed": "true",
      "dev.cove.sandbox-id": a,
      "dev.cove.organization-id": "org-test",
      "dev.cove.label.suite": "driver",
    });
    const mounts = info.Mounts.map((m) => ({ src: m.Source, dst: m.Destination, rw: m.RW }));
    expect(mounts).toEqual(
      expect.arrayContaining([
        { src: fs.realpathSync(kitDir), dst: "/cove", rw: false },
        { src: path.join(dataDir, "sandboxes", a, "run"), dst: "/run/cove", rw: true },
      ]),
    );
    expect(mounts.filter((m) => m.dst !== "/cove" && m.dst !== "/run/cove")).toEqual([]);
    expect(JSON.stringify(info.Mounts)).not.toMatch(/docker\.sock/);
  });

  test("inside: user code has no capabilities, NoNewPrivs and seccomp; PID 1 holds exactly the allowed set", async () => {
    const self = await exec(a, "grep -E '^(CapEff|CapPrm|NoNewPrivs|Seccomp):' /proc/self/status");
    expect(self.out).toMatch(/^CapPrm:\s+0{16}$/m);
    expect(self.out).toMatch(/^CapEff:\s+0{16}$/m);
    expect(self.out).toMatch(/^NoNewPrivs:\s+1$/m);
    const init = await exec(a, "grep -E '^(CapBnd|CapEff|NoNewPrivs|Seccomp):' /proc/1/status");
    expect(init.out).toMatch(new RegExp(`^CapBnd:\\s+${capabilityMask()}$`, "m"));
    expect(init.out).toMatch(/^NoNewPrivs:\s+1$/m);
    if (gvisor) {
      // gVisor's own kernel answers inside; the host kernel's seccomp filters gVisor itself.
      expect((await exec(a, "uname -r")).out).toMatch(/gvisor/);
      const pid = (await docker.getContainer(a).inspect()).State.Pid;
      expect(fs.readFileSync(`/proc/${pid}/status`, "utf8")).toMatch(/^Seccomp:\s+2$/m);
    } else {
      expect(self.out).toMatch(/^Seccomp:\s+2$/m);
      expect(init.out).toMatch(/^Seccomp:\s+2$/m);
    }
    expect(capabilityMask()).toBe("00000000000000eb");
    // The cgroup limits as the kernel applies them: memory = memory+swap, and the pids limit.
    // (Under gVisor they hold the whole sandbox kernel and are read on the host.)
    const files = [
      "memory/memory.limit_in_bytes",
      "memory/memory.memsw.limit_in_bytes",
      "pids/pids.max",
    ];
    const id = (await docker.getContainer(a).inspect()).Id;
    const cgroup = gvisor
      ? files
          .map((f) => fs.readFileSync(`/sys/fs/cgroup/${f.replace("/", `/docker/${id}/`)}`, "utf8"))
          .join("")
      : (await exec(a, `cd /sys/fs/cgroup; cat ${files.join(" ")}`)).out;
    expect(cgroup).toBe(`${256 * 1024 * 1024}\n${256 * 1024 * 1024}\n128\n`);
    // The socket directory belongs to root with mode 0700: user code cannot touch the socket.
    const sock = await exec(a, "ls /run/cove/ 2>&1; echo x > /run/cove/f 2>&1; echo $?");
    expect(sock.out).toMatch(/Permission denied/);
    // Root in the sandbox can swap daemon.sock for a symlink to a host socket (here Docker's):
    // the runner's health check refuses to dial anything but a socket.
    const swap = await exec(
      a,
      "mv /run/cove/daemon.sock /run/cove/real.sock && ln -s /var/run/docker.sock /run/cove/daemon.sock && echo swapped",
      "root",
    );
    expect(swap.out).toBe("swapped\n");
    await expect(checkDaemonHealth(driver.socketPath(a), 1_000)).rejects.toThrow(
      /not a unix socket/,
    );
    fs.rmSync(driver.socketPath(a));
    fs.renameSync(path.join(path.dirname(driver.socketPath(a)), "real.sock"), driver.socketPath(a));
    expect(await checkDaemonHealth(driver.socketPath(a), 1_000)).toBe("SERVING");
    // The kit is read-only even for root.
    const kit = await exec(a, "touch /cove/bin/x 2>&1; echo $?", "root");
    expect(kit.out).toMatch(/Read-only file system\n1\n$/);
  });

  test('network "none": only loopback, no routes; port 80 binds without NET_BIND_SERVICE', async () => {
    const res = await exec(
      a,
      "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '; echo --; ip route; ip -6 route | grep -v '^::1 ' ; echo --",
    );
    // gVisor lists loopback's own route; there is still no other interface and no route out.
    expect(res.out.replace(/^127\.0\.0\.0\/8 dev lo .*\n/m, "")).toBe("lo\n--\n--\n");
    const bind = await exec(
      a,
      'python3 -c \'import socket; s=socket.socket(); s.bind(("127.0.0.1", 80)); print("bound")\'',
    );
    expect(bind.err).toBe("");
    expect(bind.out).toBe("bound\n");
  });

  test("as root inside: /proc/sys, /sys, mount, unshare, mknod and raw sockets all fail", async () => {
    const res = await exec(
      a,
      [
        "echo 1 > /proc/sys/kernel/sysrq 2>/dev/null && echo sysctl-ok || echo sysctl-denied",
        "echo 1 > /sys/kernel/profiling 2>/dev/null && echo sys-ok || echo sys-denied",
        "mount -t tmpfs none /mnt 2>/dev/null && echo mount-ok || echo mount-denied",
        "unshare -m true 2>/dev/null && echo unshare-m-ok || echo unshare-m-denied",
        "unshare -U true 2>/dev/null && echo unshare-u-ok || echo unshare-u-denied",
        "mknod /tmp/null2 c 1 3 2>/dev/null && echo mknod-ok || echo mknod-denied",
        `python3 -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)' 2>/dev/null && echo raw-ok || echo raw-denied`,
        "id -u",
      ].join("; "),
      "root",
    );
    // A user namespace inside gVisor is one of gVisor's own: the host kernel never sees it.
    const userns = gvisor ? "unshare-u-ok" : "unshare-u-denied";
    expect(res.out).toBe(
      `sysctl-denied\nsys-denied\nmount-denied\nunshare-m-denied\n${userns}\nmknod-denied\nraw-denied\n0\n`,
    );
  });

  test("a fork bomb stops at the pids limit and the daemon keeps answering", async () => {
    if (gvisor) {
      // gVisor's Go runtime dies when the pids limit stops its threads (google/gvisor#2490):
      // the bomb takes down its own sandbox only, which reports it and starts again.
      await exec(a, "bomb() { bomb | bomb & }; bomb; sleep 6", "", 4).catch(() => undefined);
      let observed = await driver.inspect(a);
      for (let i = 0; i < 50 && observed.state === "started"; i++) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        observed = await driver.inspect(a);
      }
      expect(observed.state).toBe("error");
      expect((await driver.start(a)).state).toBe("started");
      expect((await exec(a, "echo alive")).out).toBe("alive\n");
      return;
    }
    const bomb = exec(a, "bomb() { bomb | bomb & }; bomb; sleep 6", "", 4);
    // While the bomb runs, the daemon still answers health checks.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(await checkDaemonHealth(driver.socketPath(a), 2_000)).toBe("SERVING");
    const res = await bomb;
    expect(res.timedOut).toBe(true);
    expect(res.err).toMatch(/Cannot fork|Resource temporarily unavailable/);
    // The timeout killed the whole tree: the pids come back and commands run again.
    let alive = "";
    for (let i = 0; i < 50 && alive !== "alive\n"; i++) {
      alive = await exec(a, "echo alive").then(
        (r) => r.out,
        () => "",
      );
      if (alive !== "alive\n") await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(alive).toBe("alive\n");
    expect((await driver.inspect(a)).state).toBe("started");
  }, 30_000);

  test('network "all": egress bridge without inter-container traffic', async () => {
    const c = sid("c");
    await driver.create(spec({ sandboxId: b, image, network: "all", memoryMib: 256 }));
    await driver.create(spec({ sandboxId: c, image, network: "all", memoryMib: 128 }));
    await Promise.all([driver.start(b), driver.start(c)]);
    const net = await docker.getNetwork(EGRESS_NETWORK).inspect();
    expect(net.Options?.["com.docker.network.bridge.enable_icc"]).toBe("false");
    expect((await docker.getContainer(b).inspect()).HostConfig.NetworkMode).toBe(EGRESS_NETWORK);

    const route = await exec(b, "ip route | grep -c '^default'");
    expect(route.out).toBe("1\n");
    const ipC = (await docker.getContainer(c).inspect()).NetworkSettings.Networks[EGRESS_NETWORK]
      ?.IPAddress;
    expect(ipC).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    // C serves on its bridge address; C reaches itself, B cannot reach C.
    await exec(
      c,
      "nohup python3 -m http.server 8080 --bind 0.0.0.0 >/dev/null 2>&1 & sleep 0.5; echo started",
    );
    const probe = (from: string) =>
      exec(
        from,
        `python3 -c 'import socket; socket.create_connection(("${ipC}", 8080), timeout=1.5); print("connected")' 2>&1 | tail -1`,
      );
    expect((await probe(c)).out).toBe("connected\n");
    expect((await probe(b)).out).toMatch(/timed out|refused|unreachable/i);
    expect((await driver.destroy(c)).state).toBe("missing");
  }, 40_000);

  test("a memory bomb is OOM-killed inside its sandbox while a neighbour keeps answering", async () => {
    const bomb = exec(a, "python3 -c 'a = []\nwhile True: a.append(b\"x\" * (16 << 20))'", "", 30);
    const neighbour: string[] = [];
    let done = false;
    void bomb.finally(() => {
      done = true;
    });
    while (!done) {
      const res = await exec(b, "echo ok");
      neighbour.push(res.out);
    }
    const outcome = await bomb.then(
      (r) => ({ r, err: undefined }),
      (err: unknown) => ({ r: undefined, err }),
    );
    if (gvisor) {
      // Under gVisor the memory cgroup holds the whole sandbox kernel: the bomb ends (gVisor
      // kills it, or the host OOM killer ends the sandbox as OUT_OF_MEMORY), never the neighbour.
      expect(outcome.r === undefined || outcome.r.exitCode !== 0).toBe(true);
      expect(neighbour.every((out) => out === "ok\n")).toBe(true);
      expect((await exec(b, "echo ok")).out).toBe("ok\n");
      const observed = await driver.inspect(a);
      if (observed.state !== "started") {
        expect(observed).toMatchObject({ state: "error", errorReason: "OUT_OF_MEMORY" });
        expect((await driver.start(a)).state).toBe("started");
      }
      expect((await exec(a, "echo alive")).out).toBe("alive\n");
      return;
    }
    const res = outcome.r;
    if (!res) throw outcome.err;
    // SIGKILL from the OOM killer: exit code 137 / signal 9.
    expect(res.signal === 9 || res.exitCode === 137).toBe(true);
    expect(neighbour.length).toBeGreaterThan(0);
    expect(neighbour.every((out) => out === "ok\n")).toBe(true);
    // The kernel's OOM killer did it, inside the sandbox's memory cgroup.
    const oomKills = await exec(a, "grep '^oom_kill ' /sys/fs/cgroup/memory/memory.oom_control");
    expect(Number(oomKills.out.split(" ")[1])).toBeGreaterThanOrEqual(1);
    // The daemon was not the OOM killer's victim: the sandbox still answers and is STARTED.
    expect((await exec(a, "echo alive")).out).toBe("alive\n");
    const observed = await driver.inspect(a);
    expect(observed).toMatchObject({ state: "started", errorReason: "" });
  }, 40_000);

  test("failures carry their reason: image missing, runtime missing, daemon exits, OOM at start", async () => {
    await expectCoveError(
      driver.create(spec({ sandboxId: sid("noimg"), image: "cove-test/no-such-image:0" })),
      "IMAGE_NOT_FOUND",
    );
    await expectCoveError(
      driver.create(spec({ sandboxId: sid("env"), image, env: { COVE_DAEMON_USER: "root" } })),
      "INVALID_FIELD",
    );
    // A runtime the engine does not know is refused before anything is created.
    await expectCoveError(
      driver.create(spec({ sandboxId: sid("noruntime"), image, runtime: "no-such-runtime" })),
      "RUNTIME_UNAVAILABLE",
    );

    // A daemon that cannot start: the start fails fast with the exit code and the log line.
    const broken = new DockerDriver({
      docker,
      kitDir,
      kitEntrypoint: ["/cove/bin/cove-init", "--daemon-env", "/cove/bin/no-such-daemon"],
      dataDir,
      defaultRuntime: runtime,
      logger,
      startTimeoutMs: 20_000,
      extraLabels: testLabel,
    });
    const e = sid("exit");
    await broken.create(spec({ sandboxId: e, image }));
    const begin = performance.now();
    const err = await expectCoveError(broken.start(e), "SANDBOX_START_FAILED");
    expect(performance.now() - begin).toBeLessThan(5_000);
    expect(err.metadata.exitCode).toBe("127");
    expect(err.message).toMatch(/cove-init: exec \/cove\/bin\/no-such-daemon/);
    expect(await broken.inspect(e)).toMatchObject({
      state: "error",
      errorReason: "SANDBOX_EXITED",
    });
    await broken.destroy(e);

    // 16 MiB cannot hold Node: the kernel kills the daemon and start says OUT_OF_MEMORY.
    const o = sid("oom");
    await driver.create(spec({ sandboxId: o, image, memoryMib: 16 }));
    if (gvisor) {
      // gVisor's own start fails inside 16 MiB before a daemon exists: a start failure.
      await expectCoveError(driver.start(o), "SANDBOX_START_FAILED");
    } else {
      const oom = await expectCoveError(driver.start(o), "OUT_OF_MEMORY");
      expect(oom.code).toBe("resourceExhausted");
      expect(await driver.inspect(o)).toMatchObject({
        state: "error",
        errorReason: "OUT_OF_MEMORY",
      });
    }
    await driver.destroy(o);
  }, 40_000);

  test("destroy removes the container and the sandbox's directory; inspect says missing", async () => {
    for (const id of [a, b]) {
      expect((await driver.destroy(id)).state).toBe("missing");
      expect((await driver.inspect(id)).state).toBe("missing");
      expect(await countContainers(id)).toBe(0);
      expect(fs.existsSync(path.join(dataDir, "sandboxes", id))).toBe(false);
    }
    const mine = (await driver.list()).filter((o) => o.sandboxId.startsWith(`rt${run}`));
    expect(mine).toEqual([]);
  });
});
