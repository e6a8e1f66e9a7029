import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CoveError, createLogger } from "@cove/common";
import { startTestDaemon, type TestDaemon } from "../../daemon/test/harness.js";
import {
  startToolboxGateway,
  type ToolboxGateway,
} from "../../runner/src/gateway/toolbox-gateway.js";
import type { Route, RouteQuery, RouteResolver } from "../src/domain/routes.js";
import { type SshGateway, type SshGatewayLimits, startSshGateway } from "../src/ssh/ssh-gateway.js";

/** The runner gateway's shared secret in these tests. */
export const GATEWAY_TOKEN = "ssh-test-gateway-secret";
/** A silent logger for the servers under test. */
export const logger = createLogger({ level: "silent" });

/** One change the resolver announces. */
export type Invalidation = { sandboxId: string; credentialId: string; runnerId: string };

/**
 * FakeResolver stands in for the server's route cache: tokens map to routes or to the refusal
 * the server would give; tests can announce invalidations and read what was asked.
 */
export class FakeResolver implements RouteResolver {
  /** token → route, or the error resolve throws. */
  readonly tokens = new Map<string, Route | Error>();
  /** Every query received, in order. */
  readonly queries: RouteQuery[] = [];
  /** Sandbox ids reported active. */
  readonly activity: string[] = [];
  private readonly listeners = new Set<(change: Invalidation) => void>();

  async resolve(query: RouteQuery): Promise<Route> {
    this.queries.push(query);
    if (query.access !== "ssh" || query.credential.kind !== "sshToken") {
      throw new CoveError("unauthenticated", "TOKEN_INVALID", "not an SSH token");
    }
    const entry = this.tokens.get(query.credential.secret);
    if (entry === undefined) {
      throw new CoveError("unauthenticated", "TOKEN_INVALID", "the SSH token is not valid");
    }
    if (entry instanceof Error) throw entry;
    return entry;
  }

  onInvalidate(listener: (change: Invalidation) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  recordActivity(sandboxId: string): void {
    this.activity.push(sandboxId);
  }

  async close(): Promise<void> {}

  /** invalidate announces a dropped route, as WatchRoutes would. */
  invalidate(change: Partial<Invalidation>): void {
    const full = { sandboxId: "", credentialId: "", runnerId: "", ...change };
    for (const listener of this.listeners) listener(full);
  }

  /** tokenQueries counts the queries made with one token. */
  tokenQueries(token: string): number {
    return this.queries.filter(
      (q) => q.credential.kind === "sshToken" && q.credential.secret === token,
    ).length;
  }
}

/** routeFor builds the route the server would return for a sandbox on the test runner. */
export function routeFor(sandboxId: string, gatewayUrl: string, credentialId: string): Route {
  return {
    sandboxId,
    organizationId: "org-1",
    public: false,
    runnerId: "runner-1",
    gatewayUrl,
    allowedPort: 0,
    osUser: "", // the daemon's default user, whose home is the test daemon's temp directory
    credentialId,
    expiresAt: Date.now() + 3_600_000,
  };
}

/** Everything an SSH test talks to: two sandboxes' daemons, a runner gateway, the SSH gateway. */
export interface SshWorld {
  a: TestDaemon;
  b: TestDaemon;
  toolbox: ToolboxGateway;
  resolver: FakeResolver;
  ssh: SshGateway;
  scratch: string;
  hostKeyPath: string;
  /** startGateway starts another SSH gateway on the same sandboxes (closed by close()). */
  startGateway(limits: Partial<SshGatewayLimits>, resolver?: FakeResolver): Promise<SshGateway>;
  close(): Promise<void>;
}

/** startSshWorld starts the servers; tokens "tok-a" and "tok-b" open sandboxes sbx-a and sbx-b. */
export async function startSshWorld(limits: Partial<SshGatewayLimits> = {}): Promise<SshWorld> {
  const [a, b] = await Promise.all([startTestDaemon(), startTestDaemon()]);
  const sockets = new Map([
    ["sbx-a", a.socketPath],
    ["sbx-b", b.socketPath],
  ]);
  const toolbox = await startToolboxGateway({
    listen: { host: "127.0.0.1", port: 0 },
    token: GATEWAY_TOKEN,
    resolve: (id) => sockets.get(id),
    logger,
  });
  const resolver = new FakeResolver();
  resolver.tokens.set("tok-a", routeFor("sbx-a", toolbox.url, "cred-a"));
  resolver.tokens.set("tok-b", routeFor("sbx-b", toolbox.url, "cred-b"));
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "cove-ssh-test-"));
  const hostKeyPath = path.join(scratch, "keys", "ssh_host_ed25519_key");
  const extra: SshGateway[] = [];
  const start = (more: Partial<SshGatewayLimits>, using: FakeResolver = resolver) =>
    startSshGateway({
      listen: { host: "127.0.0.1", port: 0 },
      hostKeyPath,
      resolver: using,
      gatewayToken: GATEWAY_TOKEN,
      logger,
      limits: { maxAuthFailuresPerIp: 1000, ...more },
    });
  const ssh = await start(limits);
  return {
    a,
    b,
    toolbox,
    resolver,
    ssh,
    scratch,
    hostKeyPath,
    async startGateway(more, using) {
      const gateway = await start(more, using);
      extra.push(gateway);
      return gateway;
    },
    async close() {
      await Promise.all([ssh.close(), ...extra.map((g) => g.close())]);
      await toolbox.close(200);
      await Promise.all([a.close(), b.close()]);
      fs.rmSync(scratch, { recursive: true, force: true });
    },
  };
}

/** Options every OpenSSH command gets: no config files, no host key checks, no prompts. */
export function sshOptions(logLevel = "ERROR"): string[] {
  return [
    "-F",
    "/dev/null",
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-o",
    "GlobalKnownHostsFile=/dev/null",
    "-o",
    "BatchMode=yes",
    "-o",
    `LogLevel=${logLevel}`,
    "-o",
    "PreferredAuthentications=keyboard-interactive,password",
    "-o",
    "PubkeyAuthentication=no",
    "-o",
    "ConnectTimeout=10",
  ];
}

/** The outcome of an OpenSSH command. */
export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

/** The environment OpenSSH clients run with: no agent, no display. */
function clientEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.SSH_AUTH_SOCK;
  delete env.DISPLAY;
  return env;
}

/** spawnClient starts ssh, scp or sftp with the test options. */
export function spawnClient(
  program: "ssh" | "scp" | "sftp",
  args: string[],
  logLevel = "ERROR",
): ChildProcess {
  return spawn(program, [...sshOptions(logLevel), ...args], {
    env: clientEnv(),
    stdio: ["pipe", "pipe", "pipe"],
  });
}

/** run runs ssh, scp or sftp to completion, feeding input (or nothing) to its stdin. */
export function run(
  program: "ssh" | "scp" | "sftp",
  args: string[],
  input?: Buffer | string,
  timeoutMs = 25_000,
): Promise<RunResult> {
  const child = spawnClient(program, args);
  const stdout: Buffer[] = [];
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => stdout.push(chunk));
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8");
  });
  child.stdin?.on("error", () => {}); // the client may exit before reading all input
  child.stdin?.end(input ?? "");
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${program} ${args.join(" ")} timed out; stderr: ${stderr}`));
    }, timeoutMs);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(stdout), stderr });
    });
  });
}

/** ssh runs a remote command as `ssh -p port token@127.0.0.1 command` ("" = a shell). */
export function ssh(
  port: number,
  token: string,
  command: string,
  input?: Buffer | string,
  extra: string[] = [],
): Promise<RunResult> {
  const remote = command === "" ? [] : [command];
  return run("ssh", [...extra, "-p", String(port), `${token}@127.0.0.1`, ...remote], input);
}

/** waitFor polls check until it holds or timeoutMs passes. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
