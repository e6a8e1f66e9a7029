// Builds the default sandbox image `cove/sandbox:<version>` with no container registry:
// `debootstrap --variant=minbase` of Debian bookworm from the machine's own apt mirror, the
// packages installed with apt in a chroot, a little configuration, then `tar | docker import`.
// The version is `0.1.0-<hash of the recipe below>`, so any change to the recipe gives a new
// tag; the image is also tagged `cove/sandbox:latest`. Skips the build when the tag exists.
//
//   node scripts/build-base-image.mjs [--force]      (npm run image:build)
//
// Needs root (debootstrap, chroot, mount) and a reachable Docker engine. The output of
// debootstrap, apt and npm goes to .gen-cache/base-image/build.log; its tail is printed when a
// step fails.
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { dockerReady, ensureDebianPackages, root, step } from "./lib/bootstrap.mjs";

/** Debian packages installed into the image (bookworm names; dependencies come along). */
const packages = [
  // Languages and their package managers.
  "python3",
  "python3-pip",
  "python3-venv",
  // Node.js 18 from Debian; npm itself comes from the npm registry (see npmVersion).
  "nodejs",
  // Common build tools: gcc, g++, make, libc headers.
  "build-essential",
  // Source control and network clients.
  "git",
  "curl",
  "ca-certificates",
  "openssh-client",
  "iproute2",
  // Shell and the usual command-line tools.
  "bash",
  "procps",
  "coreutils",
  "findutils",
  "grep",
  "sed",
  "tar",
  "gzip",
  "xz-utils",
  "unzip",
  "less",
  "nano",
  "jq",
];

/** The unprivileged user that sandbox code runs as. */
const user = { name: "cove", uid: 1000, gid: 1000, home: "/home/cove", shell: "/bin/bash" };

/** tsx runs TypeScript for the daemon's CodeRun; pinned to the version the repository uses. */
const tsxVersion = "4.23.15";

/**
 * Global npm packages besides npm and tsx, pinned: the language servers the daemon's LspService
 * starts (pyright for Python; typescript-language-server, which finds the global typescript next
 * to it, for TypeScript and JavaScript), and typescript, which the daemon's JavaScript and
 * TypeScript interpreter kernels also use to parse and transpile each cell. typescript 5.9 and
 * typescript-language-server 4.4 are the last lines that run on Node 18.
 */
const npmGlobals = ["pyright@1.1.414", "typescript@5.9.3", "typescript-language-server@4.4.1"];

/**
 * Python packages installed with pip into the system Python (/usr/local/lib/python3.11), pinned:
 * what the code interpreter's charts and data work need. Their test suites are removed.
 */
const pythonPackages = ["numpy==2.3.5", "pandas==2.3.3", "matplotlib==3.10.8"];

/**
 * npm is installed from the npm registry rather than Debian's `npm` package: Debian's npm 9.2 is
 * split into ~400 node-* packages plus node-gyp's -dev packages (~150 MB and a minute of apt),
 * while the registry's npm bundles its dependencies (~10 MB). 10.9 is the last line that
 * supports Node 18.
 */
const npmVersion = "10.9.9";

/**
 * Runs in the chroot right after debootstrap, which installs only the minimal base: apt then
 * resolves the packages properly (debootstrap's own resolver ignores virtual packages, which
 * some dependencies need) and brings the base up to date from bookworm-updates and
 * bookworm-security when the machine's apt sources have them. Docs and man pages are never
 * unpacked, here or by later apt-get installs inside sandboxes; no service is ever started.
 */
const installScript = `set -eu
printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d
chmod 0755 /usr/sbin/policy-rc.d
printf '%s\\n' \\
  'path-exclude=/usr/share/doc/*' \\
  'path-include=/usr/share/doc/*/copyright' \\
  'path-exclude=/usr/share/man/*' \\
  'path-exclude=/usr/share/info/*' \\
  'path-exclude=/usr/share/lintian/*' \\
  'path-exclude=/usr/share/locale/*' \\
  'path-include=/usr/share/locale/locale.alias' > /etc/dpkg/dpkg.cfg.d/cove-slim
printf '%s\\n' \\
  'APT::Install-Recommends "false";' \\
  'APT::Install-Suggests "false";' \\
  'Acquire::Languages "none";' > /etc/apt/apt.conf.d/90cove
apt-get update -q
apt-get upgrade -y -q
apt-get install -y -q ${packages.join(" ")}
`;

/**
 * Runs in the chroot after the apt installs: the pinned Python packages into the system Python
 * (bookworm marks it externally managed; these are the image's own), without their tests.
 */
const pipScript = `set -eu
python3 -m pip install --break-system-packages --no-cache-dir --root-user-action=ignore \\
  --disable-pip-version-check ${pythonPackages.join(" ")}
find /usr/local/lib/python3*/dist-packages -depth -type d -name tests \\
  -path '*/dist-packages/*/tests' -exec rm -rf {} +
`;

/**
 * Runs in the chroot last: the user, the daemon's socket directory, the locale, and removal of
 * everything that only makes the image bigger (apt lists and caches, docs, npm's cache).
 * Setuid/setgid bits are removed: user code runs unprivileged and must have no way to root.
 */
const configureScript = `set -eu
groupadd --gid ${user.gid} ${user.name}
useradd --uid ${user.uid} --gid ${user.gid} --home-dir ${user.home} --create-home \\
  --shell ${user.shell} --comment "Cove sandbox user" ${user.name}
# matplotlib's font cache, built once here rather than on every sandbox's first chart.
runuser -u ${user.name} -- env HOME=${user.home} python3 -c 'import matplotlib.font_manager'
install -d -m 0755 /run/cove
printf 'LANG=C.UTF-8\\n' > /etc/default/locale
printf '%s\\n' sandbox > /etc/hostname
rm -f /usr/sbin/policy-rc.d
find /usr/share/doc -mindepth 1 -not -type d -not -name copyright -delete
find /usr/share/doc -mindepth 1 -type d -empty -delete
rm -rf /usr/share/man/* /usr/share/info/* /usr/share/lintian/*
find /usr/share/locale -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/cache/debconf/*-old /var/lib/dpkg/*-old
rm -rf /root/.npm /root/.cache /tmp/* /var/tmp/* /var/log/apt/* /var/log/*.log
find / -xdev -type f -perm /6000 -exec chmod ug-s {} +
`;

/** Instructions `docker import --change` applies to the image (the version label is added). */
const imageChanges = [
  "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
  "ENV LANG=C.UTF-8",
  // A pip install by the sandbox user goes to ~/.local instead of failing on PEP 668.
  "ENV PIP_BREAK_SYSTEM_PACKAGES=1",
  `WORKDIR ${user.home}`,
  'CMD ["sleep","infinity"]',
];

/** Everything that decides the image's content; its hash is the version suffix. */
const recipe = {
  recipeVersion: 1,
  suite: "bookworm",
  variant: "minbase",
  packages,
  user,
  npmVersion,
  tsxVersion,
  npmGlobals,
  pythonPackages,
  installScript,
  pipScript,
  configureScript,
  imageChanges,
};

/** The image repository. */
export const BASE_IMAGE_REPOSITORY = "cove/sandbox";
/** The image version: `0.1.0-` and the first 12 hex digits of the recipe's SHA-256. */
export const BASE_IMAGE_VERSION = `0.1.0-${createHash("sha256")
  .update(JSON.stringify(recipe))
  .digest("hex")
  .slice(0, 12)}`;
/** The default sandbox image, `cove/sandbox:<version>`. */
export const BASE_IMAGE = `${BASE_IMAGE_REPOSITORY}:${BASE_IMAGE_VERSION}`;
/** The moving tag that follows the last build. */
export const BASE_IMAGE_LATEST = `${BASE_IMAGE_REPOSITORY}:latest`;
/** The Debian packages the image is built from. */
export const BASE_IMAGE_PACKAGES = [...packages];
/** The unprivileged user in the image. */
export const BASE_IMAGE_USER = { ...user };

/** Where the build log is written (kept after the build for inspection). */
export const baseImageLog = path.join(root, ".gen-cache", "base-image", "build.log");

const defaultMirror = "http://deb.debian.org/debian";
const defaultSecurityMirror = "http://deb.debian.org/debian-security";

/**
 * aptSources reads the machine's apt sources (deb822 `.sources` files and one-line `.list`
 * files) and returns the archive URI for each of the suite, its -updates and its -security
 * suites that the machine uses; the mirror is the suite's own URI (deb.debian.org if none).
 */
export function aptSources(suite = recipe.suite) {
  const dir = "/etc/apt/sources.list.d";
  const files = ["/etc/apt/sources.list"];
  if (fs.existsSync(dir)) {
    for (const name of fs.readdirSync(dir).sort()) {
      if (name.endsWith(".list") || name.endsWith(".sources")) files.push(path.join(dir, name));
    }
  }
  const wanted = [suite, `${suite}-updates`, `${suite}-security`];
  /** @type {Map<string, string>} suite → URI, first one wins */
  const found = new Map();
  const add = (types, uris, suites, components) => {
    if (!types.includes("deb") || !components.includes("main")) return;
    const uri = uris.find((u) => /^https?:\/\//.test(u));
    if (!uri) return;
    for (const s of suites) {
      if (wanted.includes(s) && !found.has(s)) found.set(s, uri.replace(/\/+$/, ""));
    }
  };
  for (const file of files) {
    let text;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch {
      continue;
    }
    if (file.endsWith(".sources")) {
      for (const stanza of text.split(/\n\s*\n/)) {
        const field = (name) =>
          new RegExp(`^${name}:[ \\t]*(.+)$`, "im").exec(stanza)?.[1]?.trim().split(/\s+/) ?? [];
        if (field("Enabled")[0]?.toLowerCase() === "no") continue;
        add(field("Types"), field("URIs"), field("Suites"), field("Components"));
      }
    } else {
      for (const line of text.split("\n")) {
        const words = line
          .replace(/#.*/, "")
          .replace(/\[[^\]]*\]/, "")
          .trim()
          .split(/\s+/);
        if (words.length >= 4) add([words[0]], [words[1]], [words[2]], words.slice(3));
      }
    }
  }
  if (found.size === 0) {
    found.set(suite, defaultMirror);
    found.set(`${suite}-updates`, defaultMirror);
    found.set(`${suite}-security`, defaultSecurityMirror);
  }
  const mirror = found.get(suite) ?? defaultMirror;
  if (!found.has(suite)) found.set(suite, mirror);
  const list = wanted
    .filter((s) => found.has(s))
    .map((s) => `deb ${found.get(s)} ${s} main`)
    .join("\n");
  return { mirror, list: `${list}\n` };
}

function imageId(ref) {
  const result = spawnSync("docker", ["image", "inspect", "--format", "{{.Id}}", ref], {
    encoding: "utf8",
    timeout: 30_000,
  });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

function docker(args) {
  const result = spawnSync("docker", args, { encoding: "utf8", timeout: 60_000 });
  if (result.status !== 0) {
    throw new Error(`docker ${args.join(" ")} failed: ${result.stderr?.trim() || result.error}`);
  }
  return result.stdout.trim();
}

function logTail(lines = 40) {
  try {
    return fs.readFileSync(baseImageLog, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

const seconds = (since) => Math.round((Date.now() - since) / 100) / 10;

/** Prints "still working… (N s)" every interval until the returned function is called. */
function heartbeat(log, started, interval = 20_000) {
  const timer = setInterval(() => {
    log(`   still working… (${Math.round((Date.now() - started) / 1000)} s)`);
  }, interval);
  return () => clearInterval(timer);
}

/**
 * logged runs a command with stdout and stderr appended to the build log, printing a heartbeat
 * line meanwhile; resolves to its duration in seconds, rejects with the log's tail on failure.
 */
function logged(label, command, args, { log, env = cleanEnv() }) {
  fs.appendFileSync(baseImageLog, `\n$ ${command} ${args.join(" ")}\n`);
  const fd = fs.openSync(baseImageLog, "a");
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", fd, fd], env });
    fs.closeSync(fd);
    running.add(child);
    child.on("exit", () => running.delete(child));
    const stop = heartbeat(log, started);
    child.on("error", (err) => {
      stop();
      reject(new Error(`${label} could not start: ${err.message}`));
    });
    child.on("exit", (code, signal) => {
      stop();
      if (code === 0) resolve(seconds(started));
      else {
        reject(
          new Error(
            `${label} exited with ${code ?? signal}; the end of ${baseImageLog}:\n${logTail()}`,
          ),
        );
      }
    });
  });
}

/** Commands of the build in progress, stopped on SIGINT/SIGTERM by the CLI. */
const running = new Set();

/** The environment for commands run in the chroot: nothing from the host's but the basics. */
function cleanEnv(extra = {}) {
  return {
    PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    LANG: "C.UTF-8",
    HOME: "/root",
    DEBIAN_FRONTEND: "noninteractive",
    ...extra,
  };
}

/** Mount points at or below dir, deepest first (a mount there makes deleting it unsafe). */
function mountsUnder(dir) {
  try {
    return fs
      .readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .map((line) => line.split(" ")[4])
      .filter((point) => point && (point === dir || point.startsWith(`${dir}/`)))
      .sort((a, b) => b.length - a.length);
  } catch {
    return [];
  }
}

/** unmountAll unmounts everything under dir; returns what is still mounted. */
function unmountAll(dir) {
  for (const point of mountsUnder(dir)) {
    if (spawnSync("umount", [point], { stdio: "ignore" }).status !== 0) {
      spawnSync("umount", ["-l", point], { stdio: "ignore" });
    }
  }
  return mountsUnder(dir);
}

/** hostNpm runs the host's npm with the rootfs's /usr/local as its global prefix. */
function hostNpm(dir, spec, log) {
  const prefix = path.join(dir, "usr/local");
  return logged(
    `npm install -g ${spec} (host npm)`,
    "npm",
    ["install", "-g", "--no-audit", "--no-fund", "--prefix", prefix, spec],
    { log, env: { ...process.env } },
  );
}

/**
 * chrootNetwork copies the host's CA bundle into the rootfs for the duration of `work` and
 * passes work the environment that lets npm and pip in the chroot reach their registries as the
 * host does: the host's npm registry, proxy variables and extra CA file.
 */
async function chrootNetwork(dir, work) {
  const registry =
    spawnSync("npm", ["config", "get", "registry"], { encoding: "utf8" }).stdout?.trim() ||
    "https://registry.npmjs.org/";
  const extra = { npm_config_registry: registry, npm_config_update_notifier: "false" };
  for (const name of ["HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy"]) {
    if (process.env[name]) extra[name] = process.env[name];
  }
  for (const name of ["PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_DEFAULT_TIMEOUT"]) {
    if (process.env[name]) extra[name] = process.env[name];
  }
  const caInRoot = "/tmp/cove-build-ca.pem";
  try {
    const ca = process.env.NODE_EXTRA_CA_CERTS;
    if (ca && fs.existsSync(ca)) {
      fs.copyFileSync(ca, path.join(dir, caInRoot));
      extra.NODE_EXTRA_CA_CERTS = caInRoot;
    }
    // pip replaces its bundle with PIP_CERT: the host's full bundle, so nothing is lost.
    const bundle = [process.env.PIP_CERT, process.env.SSL_CERT_FILE].find(
      (file) => file && fs.existsSync(file),
    );
    if (bundle) {
      fs.copyFileSync(bundle, path.join(dir, "tmp/cove-build-bundle.pem"));
      extra.PIP_CERT = "/tmp/cove-build-bundle.pem";
    }
    return await work(cleanEnv(extra));
  } finally {
    fs.rmSync(path.join(dir, caInRoot), { force: true });
    fs.rmSync(path.join(dir, "tmp/cove-build-bundle.pem"), { force: true });
  }
}

/**
 * installNodeTools installs npm, tsx and the npm globals into the rootfs's /usr/local. The image
 * has no npm yet, so npm comes from the host's npm with `--prefix <rootfs>/usr/local` (pure
 * JavaScript, run by the image's own Node). The rest is then installed by that npm in the
 * chroot (see chrootNetwork); if that fails, by the host's npm the same way as npm (none of
 * them has native code that depends on the libc).
 */
async function installNodeTools(dir, env, log) {
  const npmSeconds = await hostNpm(dir, `npm@${npmVersion}`, log);
  // npm's builtin config: `npm install -g` as root in a sandbox goes to /usr/local, as here.
  fs.writeFileSync(path.join(dir, "usr/local/lib/node_modules/npm/npmrc"), "prefix=/usr/local\n");
  const specs = [`tsx@${tsxVersion}`, ...npmGlobals];
  try {
    const took = await logged(
      `npm install -g ${specs.join(" ")} (in the chroot)`,
      "chroot",
      [dir, "npm", "install", "-g", "--no-audit", "--no-fund", ...specs],
      { log, env },
    );
    return { how: "with the image's npm in the chroot", seconds: npmSeconds + took };
  } catch (err) {
    log(`   the image's npm could not install them: ${err.message.split("\n")[0]}`);
    log("   installing them with the host's npm into the rootfs's /usr/local instead");
    let took = 0;
    for (const spec of specs) took += await hostNpm(dir, spec, log);
    return { how: "with the host's npm (--prefix)", seconds: npmSeconds + took };
  }
}

/** importRootfs streams `tar -C dir -c .` into `docker import` with the image's metadata. */
function importRootfs(dir, log) {
  const changes = [
    ...imageChanges,
    `LABEL dev.cove.image=sandbox dev.cove.version=${BASE_IMAGE_VERSION}`,
  ];
  const args = ["import", ...changes.flatMap((change) => ["--change", change])];
  args.push("--message", `Cove sandbox base image ${BASE_IMAGE_VERSION}`, "-", BASE_IMAGE);
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const tar = spawn("tar", ["-C", dir, "--numeric-owner", "-c", "."], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const importer = spawn("docker", args, { stdio: ["pipe", "ignore", "pipe"] });
    tar.stdout.pipe(importer.stdin);
    let tarErr = "";
    let importErr = "";
    tar.stderr.on("data", (chunk) => {
      tarErr += chunk;
    });
    importer.stderr.on("data", (chunk) => {
      importErr += chunk;
    });
    const stop = heartbeat(log, started);
    let tarStatus;
    const tarDone = new Promise((done) => {
      tar.on("close", (code, signal) => {
        tarStatus = code ?? signal;
        done();
      });
    });
    tar.on("error", (err) => {
      tarStatus = err.message;
    });
    importer.on("error", (err) => {
      stop();
      tar.kill();
      reject(new Error(`docker import could not start: ${err.message}`));
    });
    importer.on("close", async (code) => {
      await tarDone;
      stop();
      if (code !== 0) reject(new Error(`docker import exited with ${code}: ${importErr.trim()}`));
      else if (tarStatus !== 0) reject(new Error(`tar failed (${tarStatus}): ${tarErr.trim()}`));
      else resolve(seconds(started));
    });
  });
}

function tagLatest() {
  if (imageId(BASE_IMAGE_LATEST) !== imageId(BASE_IMAGE)) {
    docker(["tag", BASE_IMAGE, BASE_IMAGE_LATEST]);
  }
}

function imageSize() {
  return Number(docker(["image", "inspect", "--format", "{{.Size}}", BASE_IMAGE]));
}

/**
 * ensureBaseImage builds `cove/sandbox:<version>` unless it exists (or force is set) and tags it
 * `cove/sandbox:latest`. Resolves to the image name, whether it was built, and the build's
 * duration (seconds, 0 when skipped) and the image's size (bytes).
 *
 * @param {{ force?: boolean, log?: (line: string) => void }} [options]
 */
export async function ensureBaseImage({ force = false, log = defaultLog } = {}) {
  if (!force && imageId(BASE_IMAGE) !== undefined) {
    tagLatest();
    return { image: BASE_IMAGE, built: false, seconds: 0, sizeBytes: imageSize() };
  }
  if (!dockerReady()) throw new Error("the Docker engine is not reachable (start dockerd)");
  if (process.getuid?.() !== 0) {
    throw new Error(
      `${BASE_IMAGE} is missing and building it needs root (debootstrap, chroot): ` +
        "run `sudo node scripts/build-base-image.mjs`",
    );
  }
  return withBuildLock(log, async () => {
    if (!force && imageId(BASE_IMAGE) !== undefined) {
      log(`   ${BASE_IMAGE} was built meanwhile by another process`);
      tagLatest();
      return { image: BASE_IMAGE, built: false, seconds: 0, sizeBytes: imageSize() };
    }
    return build(log);
  });
}

/** Where concurrent callers (parallel jest workers, npm test and CI) wait for one build. */
const buildLock = path.join(root, ".gen-cache", "base-image", "build.lock");

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === "EPERM";
  }
}

/**
 * withBuildLock runs work while holding .gen-cache/base-image/build.lock (created exclusively,
 * holding the owner's pid); waits while a live process holds it, takes over a dead one's.
 */
async function withBuildLock(log, work) {
  fs.mkdirSync(path.dirname(buildLock), { recursive: true });
  const started = Date.now();
  let lastNote = 0;
  for (;;) {
    try {
      fs.writeFileSync(buildLock, `${process.pid}\n`, { flag: "wx" });
      break;
    } catch (err) {
      if (err.code !== "EEXIST") throw err;
    }
    let holder = Number.NaN;
    let age = 0;
    try {
      holder = Number.parseInt(fs.readFileSync(buildLock, "utf8"), 10);
      age = Date.now() - fs.statSync(buildLock).mtimeMs;
    } catch {
      continue; // released meanwhile
    }
    // A dead holder, or an empty lock left by a process that died right after creating it.
    if (Number.isNaN(holder) ? age > 10_000 : !alive(holder)) {
      fs.rmSync(buildLock, { force: true });
      continue;
    }
    if (Date.now() - lastNote >= 20_000) {
      const waited = Math.round((Date.now() - started) / 1000);
      log(`   waiting for another build of the image (pid ${holder}, ${waited} s)`);
      lastNote = Date.now();
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  try {
    return await work();
  } finally {
    try {
      if (Number.parseInt(fs.readFileSync(buildLock, "utf8"), 10) === process.pid) {
        fs.rmSync(buildLock, { force: true });
      }
    } catch {
      // already gone
    }
  }
}

/** Temporary rootfs directories are named `<prefix><pid of the build>-<random>`. */
const rootfsPrefix = "cove-sandbox-rootfs-";
/** The rootfs of the build in progress, removed on SIGINT/SIGTERM by the CLI. */
let currentRootfs;

/** removeRootfs unmounts what is mounted under dir and deletes it (never through a mount). */
function removeRootfs(dir, log) {
  const left = unmountAll(dir);
  if (left.length > 0) log(`not deleting ${dir}: still mounted there: ${left.join(", ")}`);
  else fs.rmSync(dir, { recursive: true, force: true });
}

/** removeStaleRootfs deletes the rootfs directories of builds whose process is gone. */
function removeStaleRootfs(log) {
  for (const name of fs.readdirSync(os.tmpdir())) {
    const pid = Number.parseInt(name.slice(rootfsPrefix.length), 10);
    if (!name.startsWith(rootfsPrefix) || Number.isNaN(pid) || alive(pid)) continue;
    log(`   removing ${name}, left by an interrupted build`);
    removeRootfs(path.join(os.tmpdir(), name), log);
  }
}

/** build builds and tags the image (the caller holds the build lock). */
async function build(log) {
  const started = Date.now();
  log(`Sandbox base image ${BASE_IMAGE}: building it (debootstrap + docker import, no registry)`);
  ensureDebianPackages(["debootstrap"]);
  fs.mkdirSync(path.dirname(baseImageLog), { recursive: true });
  fs.writeFileSync(baseImageLog, `build of ${BASE_IMAGE} started ${new Date().toISOString()}\n`);
  const { mirror, list } = aptSources();
  removeStaleRootfs(log);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${rootfsPrefix}${process.pid}-`));
  currentRootfs = dir;
  // mkdtemp makes it 0700; as the image's / it must be searchable by the sandbox user.
  fs.chmodSync(dir, 0o755);
  try {
    log(`debootstrap --variant=${recipe.variant} ${recipe.suite} from ${mirror}`);
    log(`   log: ${baseImageLog}`);
    const debootstrap = await logged(
      "debootstrap",
      "debootstrap",
      [`--variant=${recipe.variant}`, recipe.suite, dir, mirror],
      { log, env: { ...cleanEnv(), PATH: process.env.PATH ?? cleanEnv().PATH } },
    ).catch((err) => {
      // debootstrap keeps the details in the target, which is about to be deleted.
      const own = path.join(dir, "debootstrap", "debootstrap.log");
      if (!fs.existsSync(own)) throw err;
      fs.appendFileSync(baseImageLog, `\n--- ${own}\n${fs.readFileSync(own, "utf8")}`);
      throw new Error(
        `${err.message.split(";")[0]}; the end of its debootstrap.log ` +
          `(copied into ${baseImageLog}):\n${logTail(30)}`,
      );
    });
    log(`   done in ${debootstrap} s`);

    // The chroot borrows the host's DNS for apt and npm; /proc is mounted for the package
    // scripts and unmounted before anything is deleted or imported.
    fs.copyFileSync("/etc/resolv.conf", path.join(dir, "etc/resolv.conf"));
    fs.writeFileSync(path.join(dir, "etc/apt/sources.list"), list);
    const mounted = spawnSync("mount", ["-t", "proc", "proc", path.join(dir, "proc")], {
      encoding: "utf8",
    });
    if (mounted.status !== 0) throw new Error(`mount proc in the rootfs: ${mounted.stderr}`);

    log(`apt-get install (${packages.length} packages and their dependencies, with updates)`);
    fs.writeFileSync(path.join(dir, "tmp/cove-install.sh"), installScript);
    const install = await logged(
      "apt-get install (in the chroot)",
      "chroot",
      [dir, "/bin/sh", "/tmp/cove-install.sh"],
      { log },
    );
    log(`   done in ${install} s`);

    await chrootNetwork(dir, async (env) => {
      log(`pip install ${pythonPackages.join(" ")} (from PyPI)`);
      fs.writeFileSync(path.join(dir, "tmp/cove-pip.sh"), pipScript);
      const pip = await logged(
        "pip install (in the chroot)",
        "chroot",
        [dir, "/bin/sh", "/tmp/cove-pip.sh"],
        { log, env },
      );
      log(`   done in ${pip} s`);
      log(`npm install -g npm@${npmVersion} tsx@${tsxVersion} ${npmGlobals.join(" ")}`);
      const tools = await installNodeTools(dir, env, log);
      log(`   done in ${Math.round(tools.seconds * 10) / 10} s (${tools.how})`);
    });

    log(`configuring: user ${user.name} (${user.uid}:${user.gid}), /run/cove, C.UTF-8, cleanup`);
    fs.writeFileSync(path.join(dir, "tmp/cove-configure.sh"), configureScript);
    await logged(
      "configure (in the chroot)",
      "chroot",
      [dir, "/bin/sh", "/tmp/cove-configure.sh"],
      {
        log,
      },
    );
    const left = unmountAll(dir);
    if (left.length > 0) throw new Error(`could not unmount ${left.join(", ")}`);
    // Docker provides /etc/resolv.conf and /etc/hosts at run time; the image keeps none of ours.
    fs.writeFileSync(path.join(dir, "etc/resolv.conf"), "");

    log(`docker import → ${BASE_IMAGE}`);
    const imported = await importRootfs(dir, log);
    log(`   done in ${imported} s`);
    tagLatest();
  } finally {
    removeRootfs(dir, log);
    currentRootfs = undefined;
  }
  const took = seconds(started);
  const sizeBytes = imageSize();
  log(`built ${BASE_IMAGE} and ${BASE_IMAGE_LATEST} in ${took} s: ${megabytes(sizeBytes)}`);
  return { image: BASE_IMAGE, built: true, seconds: took, sizeBytes };
}

const megabytes = (bytes) => `${Math.round(bytes / 1e6)} MB`;

function defaultLog(line) {
  if (line.startsWith(" ")) process.stdout.write(`${line}\n`);
  else step(line);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  for (const signal of ["SIGINT", "SIGTERM"]) {
    process.once(signal, () => {
      process.stderr.write(`build-base-image: ${signal}, cleaning up\n`);
      for (const child of running) child.kill("SIGTERM");
      if (currentRootfs) removeRootfs(currentRootfs, defaultLog);
      try {
        if (Number.parseInt(fs.readFileSync(buildLock, "utf8"), 10) === process.pid) {
          fs.rmSync(buildLock, { force: true });
        }
      } catch {
        // no lock
      }
      process.exit(signal === "SIGINT" ? 130 : 143);
    });
  }
  ensureBaseImage({ force: process.argv.includes("--force") }).then(
    (result) => {
      if (!result.built) {
        step(`${result.image} is up to date (${megabytes(result.sizeBytes)}); --force rebuilds it`);
      }
    },
    (err) => {
      process.stderr.write(`build-base-image: ${err.message}\n`);
      process.exit(1);
    },
  );
}
