// Builds the daemon kit: a self-contained, read-only directory (daemon/dist/kit) that runs the
// Cove daemon inside any x86_64 Linux image, with no Node in the image. The kit brings its own
// init, Node binary, shared libraries and dynamic loader; the container's argv is fixed:
//
//   /cove/bin/cove-init /cove/lib/ld-linux-x86-64.so.2 --library-path /cove/lib \
//     /cove/bin/node /cove/app/daemon.mjs [image command...]
//
// No shell is involved, so images without /bin/sh work. The loader's --library-path applies to
// Node alone: processes the daemon starts use the image's own loader and libraries.
// Run: `npm run build:kit -w @cove/daemon`. Skips the build when its inputs are unchanged.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { ensureDebianPackages, has, root } from "../../scripts/lib/bootstrap.mjs";

/** Where the kit is mounted inside a sandbox container. */
export const kitMount = "/cove";

/** The name of the dynamic loader the kit starts Node through. */
const loaderName = "ld-linux-x86-64.so.2";

/** The container argv that starts the daemon from a kit mounted at kitMount. */
export const kitEntrypoint = [
  `${kitMount}/bin/cove-init`,
  "--daemon-env",
  `${kitMount}/lib/${loaderName}`,
  "--library-path",
  `${kitMount}/lib`,
  `${kitMount}/bin/node`,
  `${kitMount}/app/daemon.mjs`,
];

/** The default output directory. */
export const defaultKitDir = path.join(root, "daemon", "dist", "kit");

const initSource = path.join(root, "daemon", "init", "cove-init.c");
const ptyDir = path.join(root, "node_modules", "node-pty");
const ptyAddon = path.join(ptyDir, "build", "Release", "pty.node");

/** Every regular file under dir (relative paths, sorted), skipping node_modules unless asked. */
function listFiles(dir, { nodeModules = false } = {}, base = dir) {
  if (!fs.existsSync(dir)) return [];
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === "node_modules" && !nodeModules) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(full, { nodeModules }, base));
    else if (entry.isFile()) out.push(path.relative(base, full));
  }
  return out.sort();
}

/** inputHash fingerprints everything that goes into the kit. */
function inputHash() {
  const hash = createHash("sha256");
  for (const dir of ["daemon/src", "common/src", "gen/ts"]) {
    for (const file of listFiles(path.join(root, dir))) {
      hash.update(`${dir}/${file}\0`);
      hash.update(fs.readFileSync(path.join(root, dir, file)));
    }
  }
  for (const file of [
    "package-lock.json",
    initSource,
    fileURLToPath(import.meta.url),
    path.join(ptyDir, "package.json"),
  ]) {
    hash.update(`${file}\0`);
    hash.update(fs.readFileSync(path.resolve(root, file)));
  }
  hash.update(`${process.execPath}\0${fs.statSync(process.execPath).size}\0${process.version}`);
  return hash.digest("hex");
}

/** sharedLibraries lists what `ldd` says a binary loads: name → absolute path on this host. */
function sharedLibraries(binary) {
  const result = spawnSync("ldd", [binary], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`ldd ${binary}: ${result.stderr || result.stdout}`);
  const libs = new Map();
  for (const line of result.stdout.split("\n")) {
    const linked = /^\s*(\S+) => (\/\S+) \(0x[0-9a-f]+\)/.exec(line);
    if (linked?.[1] && linked[2]) libs.set(linked[1], linked[2]);
    const loader = /^\s*(\/\S*ld-linux\S*) \(0x[0-9a-f]+\)/.exec(line);
    if (loader?.[1]) libs.set(path.basename(loader[1]), loader[1]);
    if (/not found/.test(line)) throw new Error(`ldd ${binary}: ${line.trim()}`);
  }
  return libs;
}

/** compileInit builds the static cove-init, installing gcc and libc6-dev first if missing. */
function compileInit(output) {
  const libcArchive = spawnSync("gcc", ["-print-file-name=libc.a"], { encoding: "utf8" });
  if (!has("gcc") || !fs.existsSync(libcArchive.stdout?.trim() ?? "")) {
    ensureDebianPackages(["gcc", "libc6-dev"]);
  }
  const args = ["-static", "-O2", "-s", "-Wall", "-Wextra", "-Werror", "-o", output, initSource];
  const result = spawnSync("gcc", args, { stdio: "inherit" });
  if (result.status !== 0) throw new Error(`gcc ${args.join(" ")} failed`);
}

/**
 * bundleDaemon writes app/daemon.mjs (or another entry, e.g. the filesystem helper) with
 * esbuild: one ESM file, node-pty left external.
 */
async function bundleDaemon(outfile, entry = path.join(root, "daemon", "src", "main.ts")) {
  const esbuild = await import("esbuild");
  await esbuild.build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    external: ["node-pty"],
    legalComments: "none",
    logLevel: "warning",
    // Bundled CommonJS dependencies call require(); give the ES module one.
    banner: {
      js: 'import { createRequire as __coveCreateRequire } from "node:module";\nconst require = __coveCreateRequire(import.meta.url);',
    },
  });
}

/** copyPty copies node-pty's runtime files: package.json, lib/**.js (no tests), pty.node. */
function copyPty(target) {
  const copy = (rel) => {
    const to = path.join(target, rel);
    fs.mkdirSync(path.dirname(to), { recursive: true });
    fs.copyFileSync(path.join(ptyDir, rel), to);
  };
  copy("package.json");
  for (const file of listFiles(path.join(ptyDir, "lib"))) {
    if (file.endsWith(".js") && !file.endsWith(".test.js")) copy(path.join("lib", file));
  }
  copy(path.join("build", "Release", "pty.node"));
}

function sha256(file) {
  return createHash("sha256").update(fs.readFileSync(file)).digest("hex");
}

/**
 * buildKit builds the kit into dir (default daemon/dist/kit) unless kit.json there already
 * records the same input hash. Builds into a temporary directory and swaps it in, so a reader
 * never sees half a kit. Returns the kit's directory, its manifest and whether it was rebuilt.
 */
export async function buildKit({ dir = defaultKitDir, log = (line) => console.log(line) } = {}) {
  if (process.platform !== "linux" || process.arch !== "x64") {
    throw new Error(`the daemon kit is built on x86_64 Linux only (this is ${process.arch})`);
  }
  const started = Date.now();
  const hash = inputHash();
  const manifestPath = path.join(dir, "kit.json");
  if (fs.existsSync(manifestPath)) {
    const manifest = JSON.parse(fs.readFileSync(manifestPath, "utf8"));
    if (manifest.inputHash === hash) {
      log(`kit: up to date (${dir})`);
      return { dir, manifest, built: false };
    }
  }

  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  for (const sub of ["bin", "lib", "app"]) fs.mkdirSync(path.join(tmp, sub), { recursive: true });

  log("kit: compiling cove-init (gcc -static)");
  compileInit(path.join(tmp, "bin", "cove-init"));

  log(`kit: copying Node ${process.version} from ${process.execPath}`);
  fs.copyFileSync(process.execPath, path.join(tmp, "bin", "node"));
  fs.chmodSync(path.join(tmp, "bin", "node"), 0o755);

  const libs = new Map([...sharedLibraries(process.execPath), ...sharedLibraries(ptyAddon)]);
  if (!libs.has(loaderName)) throw new Error(`ldd did not list ${loaderName} for Node`);
  log(`kit: copying ${libs.size} shared libraries (${[...libs.keys()].join(", ")})`);
  for (const [name, from] of libs) {
    fs.copyFileSync(fs.realpathSync(from), path.join(tmp, "lib", name));
    fs.chmodSync(path.join(tmp, "lib", name), 0o755);
  }

  log("kit: bundling daemon/src/main.ts (esbuild)");
  await bundleDaemon(path.join(tmp, "app", "daemon.mjs"));
  log("kit: bundling daemon/src/filesystem-helper/main.ts (esbuild)");
  await bundleDaemon(
    path.join(tmp, "app", "filesystem-helper.mjs"),
    path.join(root, "daemon", "src", "filesystem-helper", "main.ts"),
  );
  log("kit: copying node-pty");
  copyPty(path.join(tmp, "app", "node_modules", "node-pty"));

  const files = listFiles(tmp, { nodeModules: true }).map((rel) => {
    const full = path.join(tmp, rel);
    const stat = fs.statSync(full);
    return { path: rel, size: stat.size, mode: stat.mode & 0o777, sha256: sha256(full) };
  });
  const manifest = {
    name: "cove-daemon-kit",
    inputHash: hash,
    arch: "x86_64",
    node: process.version,
    mount: kitMount,
    entrypoint: kitEntrypoint,
    notes: [
      "Mount the kit read-only at `mount` and run `entrypoint` followed by the image's command.",
      "Start the daemon with a clean environment: NODE_EXTRA_CA_CERTS alone costs ~90 ms per start.",
      "process.execPath is the loader, not Node, under this entrypoint: the daemon starts Node (its filesystem helper) with the argv it was started with, from /proc/self/cmdline.",
    ],
    sizeBytes: files.reduce((sum, f) => sum + f.size, 0),
    files,
  };
  fs.writeFileSync(path.join(tmp, "kit.json"), `${JSON.stringify(manifest, null, 2)}\n`);

  const old = `${dir}.old-${process.pid}`;
  if (fs.existsSync(dir)) fs.renameSync(dir, old);
  fs.renameSync(tmp, dir);
  fs.rmSync(old, { recursive: true, force: true });
  const mib = (manifest.sizeBytes / 1024 / 1024).toFixed(1);
  log(`kit: built ${dir} (${files.length} files, ${mib} MiB) in ${Date.now() - started} ms`);
  return { dir, manifest, built: true };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  buildKit().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
