// Set-up steps shared by `npm test`, `npm start` and .ci/run: each checks first and does
// nothing when the machine already has what it needs, and says what it is doing otherwise.
// Only Node's standard library is used here: this runs before `npm ci`.
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root. */
export const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const stampDir = join(root, ".gen-cache", "stamps");

/** step prints a progress heading. */
export function step(message) {
  process.stdout.write(`\x1b[1m==> ${message}\x1b[0m\n`);
}

/** run executes a command with inherited output and throws with its name when it fails. */
export function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: "inherit", cwd: root, ...options });
  if (result.error) throw new Error(`${command}: ${result.error.message}`);
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(" ")} exited with ${result.status ?? result.signal}`);
  }
}

/** has tells whether a command is on PATH. */
export function has(command) {
  return spawnSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" }).status === 0;
}

function fingerprint(files) {
  const hash = createHash("sha256");
  for (const file of files) {
    const path = join(root, file);
    hash.update(file);
    hash.update(existsSync(path) ? readFileSync(path) : "");
  }
  return hash.digest("hex");
}

/** onceFor runs work only when the given files changed since it last succeeded. */
export function onceFor(name, files, check, work) {
  const stamp = join(stampDir, name);
  const want = fingerprint(files);
  if (check() && existsSync(stamp) && readFileSync(stamp, "utf8") === want) return;
  work();
  mkdirSync(stampDir, { recursive: true });
  writeFileSync(stamp, want);
}

let aptUpdated = false;
/** ensureDebianPackages installs missing Debian packages with apt-get when running as root. */
export function ensureDebianPackages(packages) {
  const missing = packages.filter(
    (name) =>
      // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax.
      spawnSync("dpkg-query", ["-W", "-f=${Status}", name], { encoding: "utf8" }).stdout !==
      "install ok installed",
  );
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    throw new Error(`missing Debian packages: ${missing.join(" ")} (install them, or run as root)`);
  }
  step(`apt-get install ${missing.join(" ")}`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  if (!aptUpdated) {
    run("apt-get", ["update", "-q"], { env });
    aptUpdated = true;
  }
  run("apt-get", ["install", "-y", "-q", "--no-install-recommends", ...missing], { env });
}

/** ensureNodeModules runs `npm ci` when node_modules is missing or older than the lock file. */
export function ensureNodeModules() {
  const marker = join(root, "node_modules", ".package-lock.json");
  const lock = join(root, "package-lock.json");
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs) return;
  step("npm ci (installing npm dependencies)");
  run("npm", ["ci", "--no-audit", "--no-fund"]);
}

/** The Python interpreter of the project's virtual environment. */
export const venvPython = join(root, ".venv", "bin", "python");

/** ensurePython creates .venv with the pinned codegen/test tools and the generated package. */
export function ensurePython() {
  if (!has("python3")) ensureDebianPackages(["python3", "python3-venv", "python3-pip"]);
  const requirements = [
    "interop/python/requirements.txt",
    "gen/python/pyproject.toml",
    "clients/python/pyproject.toml",
  ];
  onceFor(
    "python",
    requirements,
    () => existsSync(venvPython),
    () => {
      step("Python virtual environment (.venv): grpcio(-tools), pytest, cove-proto, cove-sdk");
      if (!existsSync(venvPython)) run("python3", ["-m", "venv", join(root, ".venv")]);
      run(venvPython, ["-m", "pip", "install", "-q", "-r", "interop/python/requirements.txt"]);
      run(venvPython, ["-m", "pip", "install", "-q", "-e", "gen/python"]);
      run(venvPython, ["-m", "pip", "install", "-q", "-e", "clients/python"]);
    },
  );
}

/** ensureGo checks for a Go toolchain new enough for the generated module (Go 1.24+). */
export function ensureGo() {
  if (!has("go")) ensureDebianPackages(["golang-go"]);
  const version = spawnSync("go", ["env", "GOVERSION"], { encoding: "utf8" }).stdout.trim();
  const [, minor] = /^go1\.(\d+)/.exec(version) ?? [];
  if (minor === undefined || Number(minor) < 24) {
    throw new Error(
      `Go 1.24 or newer is needed for clients/go and interop/go; found ${version || "none"}`,
    );
  }
}

/** dockerReady tells whether the Docker CLI can reach an engine. */
export function dockerReady() {
  return spawnSync("docker", ["info"], { stdio: "ignore", timeout: 15_000 }).status === 0;
}

/** Where ensureDocker writes the log of a dockerd it starts. */
export const dockerdLog = "/var/log/cove-dockerd.log";

/**
 * ensureDocker makes the Docker engine reachable: installs Debian's docker.io when dockerd is
 * missing (as root), starts dockerd in the background when `docker info` fails, and waits up to
 * timeoutMs for it. A dockerd that is already running is left alone; throws when impossible.
 */
export function ensureDocker({ timeoutMs = 60_000 } = {}) {
  if (has("docker") && dockerReady()) return;
  if (!has("dockerd") || !has("docker")) ensureDebianPackages(["docker.io"]);
  if (dockerReady()) return;
  if (process.getuid?.() !== 0) {
    throw new Error("the Docker engine is not reachable: start dockerd, or run as root");
  }
  step(`starting dockerd in the background (log: ${dockerdLog})`);
  const log = openSync(dockerdLog, "a");
  const child = spawn("dockerd", [], { detached: true, stdio: ["ignore", log, log] });
  child.unref();
  closeSync(log);
  // The event loop does not run while we wait, so an early exit shows up as a zombie in /proc.
  const gone = () => {
    try {
      return readFileSync(`/proc/${child.pid}/stat`, "utf8").split(") ")[1]?.startsWith("Z");
    } catch {
      return true;
    }
  };
  const pause = new Int32Array(new SharedArrayBuffer(4));
  const deadline = Date.now() + timeoutMs;
  while (!dockerReady()) {
    if (gone()) throw new Error(`dockerd exited at start-up; see ${dockerdLog}`);
    if (Date.now() > deadline) {
      throw new Error(`dockerd did not answer within ${timeoutMs} ms; see ${dockerdLog}`);
    }
    Atomics.wait(pause, 0, 0, 250);
  }
}

/** The gVisor version the project builds (a pseudo-version of the repository's go branch). */
export const GVISOR_VERSION = "v0.0.0-20260905035102-160fafc42237";
/** Flags Cove's runsc runtime runs with: sockets the daemon makes in bind mounts appear on the host; the root filesystem is written through to the container's layer (persistent, disk-limited). */
export const RUNSC_ARGS = ["--host-uds=create", "--overlay2=none"];

/**
 * ensureRunsc builds gVisor's runsc with the Go toolchain (once per version, cached in
 * /var/lib/cove/runsc/<version>; a few minutes on two cores) and registers it with dockerd as
 * runtime "runsc" in /etc/docker/daemon.json, reloading dockerd with SIGHUP (runtimes reload
 * without a restart; running containers are not touched). Root only; returns the binary's path.
 */
export function ensureRunsc() {
  if (process.getuid?.() !== 0) throw new Error("building and registering runsc needs root");
  const dir = join("/var/lib/cove/runsc", GVISOR_VERSION);
  const binary = join(dir, "runsc");
  if (!existsSync(binary)) {
    ensureGo();
    step(`building gVisor runsc ${GVISOR_VERSION} with go install (cached in ${dir})`);
    mkdirSync(dir, { recursive: true });
    run("go", ["install", `gvisor.dev/gvisor/runsc@${GVISOR_VERSION}`], {
      env: { ...process.env, GOBIN: dir, CGO_ENABLED: "0", GOFLAGS: "-mod=mod" },
    });
  }
  const config = "/etc/docker/daemon.json";
  const current = existsSync(config) ? JSON.parse(readFileSync(config, "utf8") || "{}") : {};
  const want = { path: binary, runtimeArgs: RUNSC_ARGS };
  if (JSON.stringify(current.runtimes?.runsc) !== JSON.stringify(want)) {
    step(`registering runsc with dockerd (${config}, then SIGHUP)`);
    const next = { ...current, runtimes: { ...current.runtimes, runsc: want } };
    mkdirSync(dirname(config), { recursive: true });
    writeFileSync(config, `${JSON.stringify(next, null, 2)}\n`);
    const pid = spawnSync("pgrep", ["-x", "dockerd"], { encoding: "utf8" }).stdout.split("\n")[0];
    if (pid) process.kill(Number(pid), "SIGHUP");
  }
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; i < 40; i++) {
    const info = spawnSync("docker", ["info", "--format", "{{json .Runtimes}}"], {
      encoding: "utf8",
    });
    if (info.stdout.includes(binary)) return binary;
    Atomics.wait(pause, 0, 0, 250);
  }
  throw new Error(`dockerd did not pick up the runsc runtime from ${config}`);
}
