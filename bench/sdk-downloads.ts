// Benchmark: one file downloaded through the proxy by each SDK, in the same run, on one stack:
// TypeScript (`sandbox.fs.downloadFile`), Python sync and asyncio (`sandbox.fs.download_file`,
// bench/sdk_download.py) and Go (`Sandbox.ReadFile`, clients/go/internal/benchdownload), each
// into memory, against `docker cp` of the same file out of the container as the baseline.
// Prints the median of BENCH_ROUNDS rounds (default 3) per client and its ratio to TypeScript.
// Run: `npm run bench:downloads` (needs Docker, .venv and Go). BENCH_DOWNLOAD_MIB sets the size
// (default 100).
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Cove } from "../clients/typescript/src/index.js";
import { dockerUnreachableReason } from "../daemon/test/docker-images.js";
import globalSetup from "../test/jest-global-setup.js";
import globalTeardown from "../test/jest-global-teardown.js";
import { startStack } from "../test/stack.js";

const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const mib = Number(process.env.BENCH_DOWNLOAD_MIB ?? 100);
const root = path.resolve(import.meta.dirname, "..");
const remotePath = "bench-download.bin";

const unreachable = dockerUnreachableReason();
if (unreachable !== undefined) {
  console.error(`The Docker engine is not reachable (${unreachable}).`);
  process.exit(1);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
};

/**
 * runChild runs a client's timing program and returns the seconds of each round. It must not
 * block: the stack it talks to runs in this process.
 */
async function runChild(
  command: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
): Promise<number[]> {
  const child = spawn(command, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => {
    stdout += d.toString("utf8");
  });
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString("utf8");
  });
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  if (code !== 0) throw new Error(`${command} ${args.join(" ")} failed: ${stderr}`);
  return stdout
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as { seconds: number; bytes: number })
    .map((m) => {
      if (m.bytes !== mib * 2 ** 20) throw new Error(`${command} read ${m.bytes} bytes`);
      return m.seconds;
    });
}

await globalSetup();
const stack = await startStack({ name: "bench-downloads" });
const cove = new Cove({
  apiKey: stack.adminKey,
  apiUrl: stack.apiUrl,
  proxyUrl: stack.proxyUrl,
  timeoutMs: 300_000,
});
const results: [string, number][] = [];
try {
  const sandbox = await cove.create({ labels: { "dev.cove.bench": "downloads" } });
  const made = await sandbox.process.executeCommand(
    `head -c ${mib * 2 ** 20} /dev/urandom > ${remotePath}`,
    { timeout: 120 },
  );
  if (made.exitCode !== 0) throw new Error(`making the file failed: ${made.result}`);
  const env = {
    ...process.env,
    COVE_API_KEY: stack.adminKey,
    COVE_API_URL: stack.apiUrl,
    COVE_PROXY_URL: stack.proxyUrl,
  };

  const ts: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    const data = await sandbox.fs.downloadFile(remotePath);
    ts.push((performance.now() - t0) / 1000);
    if (data.length !== mib * 2 ** 20) throw new Error(`TypeScript read ${data.length} bytes`);
  }
  results.push(["TypeScript", median(ts)]);
  const py = path.join(root, ".venv", "bin", "python");
  const script = path.join(root, "bench", "sdk_download.py");
  for (const mode of ["sync", "async"]) {
    const args = [script, mode, sandbox.id, remotePath, String(rounds)];
    results.push([`Python ${mode}`, median(await runChild(py, args, root, env))]);
  }
  const goArgs = ["run", "./internal/benchdownload", sandbox.id, remotePath, String(rounds)];
  results.push(["Go", median(await runChild("go", goArgs, path.join(root, "clients", "go"), env))]);

  const local = path.join(os.tmpdir(), `cove-bench-dl-${process.pid}.bin`);
  const cp: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    const r = spawnSync("docker", ["cp", `${sandbox.id}:/home/cove/${remotePath}`, local]);
    if (r.status !== 0) throw new Error(`docker cp failed: ${r.stderr}`);
    cp.push((performance.now() - t0) / 1000);
    fs.rmSync(local, { force: true });
  }
  results.push(["docker cp (baseline)", median(cp)]);
  await sandbox.delete();
} finally {
  cove.close();
  await stack.stop();
  await globalTeardown();
}

const base = results[0]?.[1] ?? Number.NaN;
console.log(`\nDownload of ${mib} MiB through the proxy, median of ${rounds} rounds\n`);
console.log("| client | seconds | MiB/s | × TypeScript |");
console.log("|---|---|---|---|");
for (const [name, s] of results) {
  console.log(`| ${name} | ${s.toFixed(2)} | ${(mib / s).toFixed(0)} | ${(s / base).toFixed(2)} |`);
}
process.exit(0);
