// A real image registry for tests: Debian's docker-registry (distribution) on 127.0.0.1 and a
// free port, storage in a temporary directory, optionally behind htpasswd basic auth. The
// engine allows plain HTTP to 127.0.0.0/8 registries, so push and pull need no TLS.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";

/** A running registry. */
export interface TestRegistry {
  /** host:port, the prefix of image references in it. */
  host: string;
  /** stop ends the registry and deletes its storage. */
  stop(): Promise<void>;
}

/** freePort asks the kernel for a free loopback port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        address && typeof address === "object"
          ? resolve(address.port)
          : reject(new Error("no port")),
      );
    });
  });
}

/** registryUnavailableReason says why no registry can be started, or undefined. */
export function registryUnavailableReason(): string | undefined {
  if (!fs.existsSync("/usr/bin/docker-registry"))
    return "Debian's docker-registry is not installed (npm test installs it)";
  return undefined;
}

/** bcryptHash hashes a password for htpasswd with the system's crypt(3) (bcrypt). */
function bcryptHash(password: string): string {
  const result = spawnSync(
    "python3",
    [
      "-W",
      "ignore",
      "-c",
      "import crypt,sys; print(crypt.crypt(sys.stdin.read(), crypt.mksalt(crypt.METHOD_BLOWFISH)))",
    ],
    { input: password, encoding: "utf8" },
  );
  if (result.status !== 0) throw new Error(`bcrypt failed: ${result.stderr}`);
  return result.stdout.trim();
}

/** startRegistry starts a registry; with `users`, every request needs one of them. */
export async function startRegistry(users?: Record<string, string>): Promise<TestRegistry> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cove-registry-"));
  const port = await freePort();
  const auth = users ? `auth:\n  htpasswd:\n    realm: cove-test\n    path: ${dir}/htpasswd\n` : "";
  if (users) {
    const lines = Object.entries(users).map(([u, p]) => `${u}:${bcryptHash(p)}`);
    fs.writeFileSync(path.join(dir, "htpasswd"), `${lines.join("\n")}\n`);
  }
  fs.mkdirSync(path.join(dir, "data"));
  fs.writeFileSync(
    path.join(dir, "config.yml"),
    `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n${auth}`,
  );
  const child: ChildProcess = spawn(
    "/usr/bin/docker-registry",
    ["serve", path.join(dir, "config.yml")],
    {
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    if (stderr.length < 8192) stderr += d.toString();
  });
  const until = Date.now() + 20_000;
  for (;;) {
    const status = await fetch(`http://127.0.0.1:${port}/v2/`).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200 || status === 401) break;
    if (child.exitCode !== null || Date.now() > until) {
      child.kill("SIGKILL");
      throw new Error(`the registry did not come up: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    host: `127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
