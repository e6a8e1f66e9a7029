// `npm test`: sets up what is missing, then runs every test suite — lint, type check, jest
// (TypeScript), pytest (Python) and go test (Go) — and prints one total line at the end.
// Extra arguments are passed to jest, e.g. `npm test -- common`.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ensureBaseImage } from "./build-base-image.mjs";
import {
  dockerReady,
  ensureDebianPackages,
  ensureDocker,
  ensureGo,
  ensureNodeModules,
  ensurePython,
  ensureRunsc,
  root,
  step,
  venvPython,
} from "./lib/bootstrap.mjs";

const bin = (name) => join(root, "node_modules", ".bin", name);
const reports = join(root, ".gen-cache", "reports");

ensureNodeModules();
ensurePython();
ensureGo();
// Server tests run against a real Redis too (jest's global setup starts a private one).
ensureDebianPackages(["redis-server", "openssh-client"]);
try {
  // The daemon kit test runs a container from a static-busybox image built on the spot; the
  // runner's image tests push to and pull from a local registry (Debian's docker-registry).
  ensureDocker();
  // nftables for the egress policies, e2fsprogs for the per-sandbox disks.
  ensureDebianPackages(["busybox-static", "docker-registry", "nftables", "e2fsprogs"]);
  // gVisor: the hardening tests run under runsc too.
  try {
    ensureRunsc();
  } catch (err) {
    process.stdout.write(`runsc is not available, the gVisor tests will skip: ${err.message}\n`);
  }
} catch (err) {
  process.stdout.write(`Docker is not available, container tests will skip: ${err.message}\n`);
}
if (dockerReady()) {
  // The default sandbox image; built once per recipe version (a couple of minutes), then reused.
  try {
    await ensureBaseImage();
  } catch (err) {
    process.stdout.write(`The sandbox base image could not be built: ${err.message}\n`);
  }
}
rmSync(reports, { recursive: true, force: true });
mkdirSync(reports, { recursive: true });

const failures = [];
const totals = { passed: 0, failed: 0, skipped: 0 };

function suite(name, command, args, options = {}) {
  step(name);
  const result = spawnSync(command, args, { stdio: "inherit", cwd: root, ...options });
  if (result.status !== 0) failures.push(`${name} (exit ${result.status ?? result.signal})`);
  return result.status === 0;
}

suite("buf lint", bin("buf"), ["lint"]);
suite("buf format (check)", bin("buf"), ["format", "--diff", "--exit-code"]);
suite("biome (lint and format check)", bin("biome"), ["check", "."]);
suite("tsc (type check)", bin("tsc"), ["-p", "tsconfig.json"]);

const jestReport = join(reports, "jest.json");
suite("jest (TypeScript)", bin("jest"), [
  "--json",
  `--outputFile=${jestReport}`,
  ...process.argv.slice(2),
]);
if (existsSync(jestReport)) {
  const report = JSON.parse(readFileSync(jestReport, "utf8"));
  totals.passed += report.numPassedTests;
  totals.failed += report.numFailedTests;
  totals.skipped += report.numPendingTests + report.numTodoTests;
}

const pytestReport = join(reports, "pytest.xml");
suite("pytest (Python)", venvPython, [
  "-m",
  "pytest",
  "-q",
  "interop/python",
  "clients/python/tests",
  `--junitxml=${pytestReport}`,
]);
if (existsSync(pytestReport)) {
  const xml = readFileSync(pytestReport, "utf8");
  const attr = (name) =>
    Number(new RegExp(`<testsuite [^>]*\\b${name}="(\\d+)"`).exec(xml)?.[1] ?? 0);
  const failed = attr("failures") + attr("errors");
  totals.failed += failed;
  totals.skipped += attr("skipped");
  totals.passed += attr("tests") - failed - attr("skipped");
}

for (const dir of ["gen/go", "interop/go", "clients/go"]) {
  step(`go vet (${dir})`);
  if (spawnSync("go", ["vet", "./..."], { stdio: "inherit", cwd: join(root, dir) }).status !== 0) {
    failures.push(`go vet ${dir}`);
  }
}
for (const dir of ["interop/go", "clients/go"]) {
  step(`go test (${dir})`);
  const go = spawnSync("go", ["test", "-json", "-count=1", "./..."], {
    cwd: join(root, dir),
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  for (const line of go.stdout.split("\n")) {
    if (!line.startsWith("{")) continue;
    const event = JSON.parse(line);
    if (event.Action === "output") process.stdout.write(event.Output);
    if (!event.Test) continue;
    if (event.Action === "pass") totals.passed++;
    if (event.Action === "fail") totals.failed++;
    if (event.Action === "skip") totals.skipped++;
  }
  process.stderr.write(go.stderr);
  if (go.status !== 0) failures.push(`go test ${dir} (exit ${go.status})`);
}

if (failures.length > 0) {
  process.stdout.write(`\nFailed: ${failures.join("; ")}\n`);
  if (totals.failed === 0) totals.failed = failures.length;
}
process.stdout.write(
  `\ntests: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped\n`,
);
process.exit(failures.length > 0 ? 1 : 0);
