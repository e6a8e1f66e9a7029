// Builds the default sandbox image `cove/sandbox:<version>` with no container registry:
// `debootstrap --variant=minbase` of Debian bookworm from the machine's own apt mirror, a few
// configuration steps in a chroot, then `tar | docker import`. The version is
// `0.1.0-<hash of the recipe below>`, so any change to the recipe gives a new tag; the image is
// also tagged `cove/sandbox:latest`. Skips the build when the tag already exists.
//
//   node scripts/build-base-image.mjs [--force]      (npm run image:build)
//
// Needs root (debootstrap, chroot) and a reachable Docker engine. debootstrap's own output goes
// to .gen-cache/base-image/build.log; its tail is printed when a step fails.
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
  "nodejs",
  "npm",
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
 * Runs in the chroot after the packages are installed: the user, the daemon's socket directory,
 * the locale, and everything that only makes the image bigger (apt lists and caches, docs, man
 * pages, npm's cache). Setuid/setgid bits are removed: user code runs unprivileged and must
 * have no way back to root inside the sandbox.
 */
const configureScript = `set -eu
groupadd --gid ${user.gid} ${user.name}
useradd --uid ${user.uid} --gid ${user.gid} --home-dir ${user.home} --create-home \\
  --shell ${user.shell} --comment "Cove sandbox user" ${user.name}
install -d -m 0755 /run/cove
printf 'LANG=C.UTF-8\\n' > /etc/default/locale
# Keep later apt-get installs inside sandboxes small too.
cat > /etc/dpkg/dpkg.cfg.d/cove-slim <<'EOF'
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
EOF
cat > /etc/apt/apt.conf.d/90cove <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
EOF
find /usr/share/doc -mindepth 1 -not -type d -not -name copyright -delete
find /usr/share/doc -mindepth 1 -type d -empty -delete
rm -rf /usr/share/man/* /usr/share/info/*
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/cache/debconf/*-old /var/lib/dpkg/*-old
rm -rf /root/.npm /root/.cache /tmp/* /var/tmp/* /var/log/apt/* /var/log/*.log
find / -xdev -type f -perm /6000 -exec chmod ug-s {} +
: > /etc/resolv.conf
printf '%s\\n' sandbox > /etc/hostname
`;

/** Instructions `docker import --change` applies to the image (the version label is added). */
const imageChanges = [
  "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
  "ENV LANG=C.UTF-8",
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
  tsxVersion,
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

/** Where the build log is written (kept after the build for inspection). */
export const baseImageLog = path.join(root, ".gen-cache", "base-image", "build.log");

const defaultMirror = "http://deb.debian.org/debian";

/**
 * findMirror returns the first Debian archive URI that apt on this machine uses for the suite
 * (deb822 `.sources` files and one-line `.list` files), or deb.debian.org.
 */
export function findMirror(suite = recipe.suite) {
  const dir = "/etc/apt/sources.list.d";
  const files = ["/etc/apt/sources.list"];
  if (fs.existsSync(dir)) {
    for (const name of fs.readdirSync(dir).sort()) {
      if (name.endsWith(".list") || name.endsWith(".sources")) files.push(path.join(dir, name));
    }
  }
  for (const file of files) {
    let text;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch {
      continue;
    }
    const candidates = [];
    if (file.endsWith(".sources")) {
      for (const stanza of text.split(/\n\s*\n/)) {
        const field = (name) =>
          new RegExp(`^${name}:\\s*(.+)$`, "im").exec(stanza)?.[1]?.trim().split(/\s+/) ?? [];
        if (/^Enabled:\s*no/im.test(stanza)) continue;
        if (!field("Types").includes("deb")) continue;
        if (!field("Suites").includes(suite)) continue;
        candidates.push(...field("URIs"));
      }
    } else {
      for (const line of text.split("\n")) {
        const words = line
          .replace(/#.*/, "")
          .replace(/\[[^\]]*\]/, "")
          .trim()
          .split(/\s+/);
        if (words[0] === "deb" && words[2] === suite && words[1]) candidates.push(words[1]);
      }
    }
    const uri = candidates.find((u) => /^https?:\/\//.test(u));
    if (uri) return uri.replace(/\/+$/, "");
  }
  return defaultMirror;
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
    const text = fs.readFileSync(baseImageLog, "utf8").trimEnd().split("\n");
    return text.slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/**
 * logged runs a command with stdout and stderr appended to the build log, printing a
 * "still working…" line every interval; rejects with the log's tail when it fails.
 */
function logged(label, command, args, { log, env, interval = 20_000 } = {}) {
  fs.appendFileSync(baseImageLog, `\n$ ${command} ${args.join(" ")}\n`);
  const fd = fs.openSync(baseImageLog, "a");
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", fd, fd], env: env ?? cleanEnv() });
    fs.closeSync(fd);
    const timer = setInterval(() => {
      log(`   still working… (${Math.round((Date.now() - started) / 1000)} s)`);
    }, interval);
    const fail = (why) => {
      clearInterval(timer);
      reject(new Error(`${label} ${why}; the end of ${baseImageLog}:\n${logTail()}`));
    };
    child.on("error", (err) => fail(`could not start: ${err.message}`));
    child.on("exit", (code, signal) => {
      if (code === 0) {
        clearInterval(timer);
        resolve(Math.round((Date.now() - started) / 100) / 10);
      } else fail(`exited with ${code ?? signal}`);
    });
  });
}

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

/** Paths mounted at or below dir (a mount there makes deleting the tree unsafe). */
function mountsUnder(dir) {
  try {
    return fs
      .readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .map((line) => line.split(" ")[4])
      .filter((point) => point && (point === dir || point.startsWith(`${dir}/`)));
  } catch {
    return [];
  }
}

/**
 * installTsx installs tsx globally into the rootfs. First with the image's own npm in the
 * chroot, given the host's DNS, proxy and extra CA settings for the duration of the install
 * (then removed); if that fails, with the host's npm and `--prefix <rootfs>/usr/local`, which
 * lays out the same files (tsx and esbuild have no native code that depends on the libc).
 */
async function installTsx(dir, log) {
  const spec = `tsx@${tsxVersion}`;
  const hostNpm = (key) =>
    spawnSync("npm", ["config", "get", key], { encoding: "utf8" }).stdout?.trim();
  const registry = hostNpm("registry") || "https://registry.npmjs.org/";
  const extra = { npm_config_registry: registry, npm_config_update_notifier: "false" };
  for (const name of ["HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy"]) {
    if (process.env[name]) extra[name] = process.env[name];
  }
  const resolv = path.join(dir, "etc/resolv.conf");
  const savedResolv = fs.existsSync(resolv) ? fs.readFileSync(resolv) : undefined;
  const caInRoot = "/tmp/cove-build-ca.pem";
  try {
    fs.copyFileSync("/etc/resolv.conf", resolv);
    const ca = process.env.NODE_EXTRA_CA_CERTS;
    if (ca && fs.existsSync(ca)) {
      fs.copyFileSync(ca, path.join(dir, caInRoot));
      extra.NODE_EXTRA_CA_CERTS = caInRoot;
    }
    const seconds = await logged(
      "npm install -g (in the chroot)",
      "chroot",
      [dir, "npm", "install", "-g", "--no-audit", "--no-fund", spec],
      { log, env: cleanEnv(extra) },
    );
    return { how: "chroot npm", seconds };
  } catch (err) {
    log(`   the image's npm could not install ${spec} (${err.message.split("\n")[0]});`);
    log("   installing it with the host's npm into the rootfs's /usr/local instead");
    const seconds = await logged(
      "npm install -g --prefix (host npm)",
      "npm",
      ["install", "-g", "--no-audit", "--no-fund", "--prefix", path.join(dir, "usr/local"), spec],
      { log, env: { ...process.env } },
    );
    return { how: "host npm --prefix", seconds };
  } finally {
    fs.rmSync(path.join(dir, caInRoot), { force: true });
    if (savedResolv) fs.writeFileSync(resolv, savedResolv);
  }
}

/** importRootfs streams `tar -C dir -c .` into `docker import` with the image's metadata. */
function importRootfs(dir, log) {
  const changes = [
    ...imageChanges,
    `LABEL dev.cove.image=sandbox dev.cove.version=${BASE_IMAGE_VERSION}`,
  ];
  const args = ["import", ...changes.flatMap((c) => ["--change", c])];
  args.push("--message", `cove sandbox base image ${BASE_IMAGE_VERSION}`, "-", BASE_IMAGE);
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const tar = spawn("tar", ["-C", dir, "--numeric-owner", "-c", "."], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const imp = spawn("docker", args, { stdio: ["pipe", "pipe", "pipe"] });
    tar.stdout.pipe(imp.stdin);
    let tarErr = "";
    let impErr = "";
    tar.stderr.on("data", (d) => {
      tarErr += d;
    });
    imp.stderr.on("data", (d) => {
      impErr += d;
    });
    const timer = setInterval(() => {
      log(`   still working… (${Math.round((Date.now() - started) / 1000)} s)`);
    }, 20_000);
    let tarCode;
    tar.on("exit", (code) => {
      tarCode = code;
    });
    tar.on("error", (err) => reject(new Error(`tar: ${err.message}`)));
    imp.on("error", (err) => reject(new Error(`docker import: ${err.message}`)));
    imp.on("close", (code) => {
      clearInterval(timer);
      if (code !== 0) reject(new Error(`docker import exited with ${code}: ${impErr.trim()}`));
      else if (tarCode !== 0 && tarCode !== undefined) {
        reject(new Error(`tar exited with ${tarCode}: ${tarErr.trim()}`));
      } else resolve(Math.round((Date.now() - started) / 100) / 10);
    });
  });
}

function tagLatest() {
  if (imageId(BASE_IMAGE_LATEST) !== imageId(BASE_IMAGE)) {
    docker(["tag", BASE_IMAGE, BASE_IMAGE_LATEST]);
  }
}

/**
 * ensureBaseImage builds `cove/sandbox:<version>` unless it exists (or force is set) and tags it
 * `cove/sandbox:latest`. Resolves to the image name, whether it was built, and the build's
 * duration (seconds) and size (bytes).
 *
 * @param {{ force?: boolean, log?: (line: string) => void }} [options]
 * @returns {Promise<{ image: string, version: string, built: boolean, seconds: number, sizeBytes: number }>}
 */
export async function ensureBaseImage({ force = false, log = defaultLog } = {}) {
  const size = () => Number(docker(["image", "inspect", "--format", "{{.Size}}", BASE_IMAGE]));
  if (!force && imageId(BASE_IMAGE) !== undefined) {
    tagLatest();
    return {
      image: BASE_IMAGE,
      version: BASE_IMAGE_VERSION,
      built: false,
      seconds: 0,
      sizeBytes: size(),
    };
  }
  if (!dockerReady()) throw new Error("the Docker engine is not reachable (start dockerd)");
  if (process.getuid?.() !== 0) {
    throw new Error(
      `${BASE_IMAGE} is missing and building it needs root (debootstrap, chroot): ` +
        "run `sudo node scripts/build-base-image.mjs`",
    );
  }
  const started = Date.now();
  log(`Building the sandbox base image ${BASE_IMAGE} (no registry: debootstrap + docker import)`);
  ensureDebianPackages(["debootstrap"]);
  fs.mkdirSync(path.dirname(baseImageLog), { recursive: true });
  fs.writeFileSync(baseImageLog, `build of ${BASE_IMAGE} started ${new Date().toISOString()}\n`);
  const mirror = findMirror();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cove-sandbox-rootfs-"));
  try {
    log(
      `debootstrap --variant=${recipe.variant} ${recipe.suite} from ${mirror} (log: ${baseImageLog})`,
    );
    const bootstrapSeconds = await logged(
      "debootstrap",
      "debootstrap",
      [`--variant=${recipe.variant}`, `--include=${packages.join(",")}`, recipe.suite, dir, mirror],
      { log, env: { ...cleanEnv(), PATH: process.env.PATH ?? cleanEnv().PATH } },
    );
    log(`   debootstrap done in ${bootstrapSeconds} s`);

    log(`installing ${"tsx"}@${tsxVersion} globally in the rootfs`);
    const tsx = await installTsx(dir, log);
    log(`   tsx installed with ${tsx.how} in ${tsx.seconds} s`);

    log(`configuring: user ${user.name} (${user.uid}:${user.gid}), /run/cove, C.UTF-8, slimming`);
    fs.writeFileSync(path.join(dir, "tmp/cove-configure.sh"), configureScript);
    await logged(
      "configure (in the chroot)",
      "chroot",
      [dir, "/bin/bash", "/tmp/cove-configure.sh"],
      {
        log,
      },
    );

    log(`docker import → ${BASE_IMAGE}`);
    const importSeconds = await importRootfs(dir, log);
    log(`   imported in ${importSeconds} s`);
    tagLatest();
  } finally {
    const mounted = mountsUnder(dir);
    if (mounted.length > 0) {
      log(`not deleting ${dir}: still mounted there: ${mounted.join(", ")}`);
    } else {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  const seconds = Math.round((Date.now() - started) / 100) / 10;
  const sizeBytes = size();
  log(
    `built ${BASE_IMAGE} (also ${BASE_IMAGE_LATEST}) in ${seconds} s, ` +
      `${(sizeBytes / 1e6).toFixed(0)} MB`,
  );
  return { image: BASE_IMAGE, version: BASE_IMAGE_VERSION, built: true, seconds, sizeBytes };
}

function defaultLog(line) {
  if (line.startsWith(" ")) process.stdout.write(`${line}\n`);
  else step(line);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const force = process.argv.includes("--force");
  ensureBaseImage({ force }).then(
    (result) => {
      if (!result.built) {
        step(
          `${result.image} is up to date (${(result.sizeBytes / 1e6).toFixed(0)} MB); --force rebuilds it`,
        );
      }
    },
    (err) => {
      process.stderr.write(`build-base-image: ${err.message}\n`);
      process.exit(1);
    },
  );
}
