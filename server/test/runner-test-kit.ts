// Shared pieces of the runner hub tests: a recording SandboxStateSink, a control plane (hub +
// real Connect server) that can be killed and restarted on its port, the real runner client
// (ControlStream + CommandExecutor over MemoryDriver) dialling it, and a TCP proxy in front of
// Postgres that can be cut to make the database unreachable.
import * as net from "node:net";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import {
  createErrorInterceptor,
  createLogger,
  type GrpcServer,
  type Logger,
  startGrpcServer,
} from "@cove/common";
import { RunnerAdminService } from "@cove/gen-ts/cove/runner/v1/runner_admin_service_pb.js";
import { RunnerService } from "@cove/gen-ts/cove/runner/v1/runner_service_pb.js";
import type { Knex } from "knex";
import { CommandExecutor } from "../../runner/src/control/command-executor.js";
import { ControlStream } from "../../runner/src/control/control-stream.js";
import { MemoryDriver } from "../../runner/test/memory-driver.js";
import { verifyRunnerToken } from "../src/domain/runner/tokens.js";
import type {
  CommandOutcome,
  OutboxCommand,
  SandboxReportData,
  SandboxStateSink,
} from "../src/domain/sandbox/ports.js";
import { RunnerAdminHandler } from "../src/handlers/runner-admin-handler.js";
import { RunnerHandler } from "../src/handlers/runner-handler.js";
import { kPrincipal } from "../src/principal.js";
import { RunnerHub, type RunnerHubDeps } from "../src/runner-stream/runner-hub.js";
import type { SharedState } from "../src/shared/shared-state.js";

/** The shared registration token the test control planes accept. */
export const SHARED_TOKEN = "shared-registration-secret";

/** A logger that prints nothing unless COVE_TEST_LOG is set. */
export const testLogger: Logger = createLogger({
  level: (process.env.COVE_TEST_LOG as "debug" | undefined) ?? "silent",
});

/** RecordingSink is a SandboxStateSink that remembers every call. */
export class RecordingSink implements SandboxStateSink {
  /** Reports applied, in order. */
  readonly reports: Array<{ runnerId: string; report: SandboxReportData }> = [];
  /** Outcomes applied, in order. */
  readonly outcomes: Array<{ command: OutboxCommand; outcome: CommandOutcome }> = [];
  /** Inventories reconciled, in order. */
  readonly reconciles: Array<{ runnerId: string; inventory: SandboxReportData[] }> = [];
  /** Sandbox ids the "database" has no row for: reported back as orphans. */
  readonly rowless = new Set<string>();

  async applyReport(runnerId: string, report: SandboxReportData): Promise<void> {
    this.reports.push({ runnerId, report });
  }

  async applyCommandOutcome(command: OutboxCommand, outcome: CommandOutcome): Promise<void> {
    this.outcomes.push({ command, outcome });
  }

  async reconcileInventory(runnerId: string, inventory: SandboxReportData[]) {
    this.reconciles.push({ runnerId, inventory });
    return { orphans: inventory.map((r) => r.sandboxId).filter((id) => this.rowless.has(id)) };
  }

  /** outcomesFor lists the outcomes applied for one command. */
  outcomesFor(commandId: string): CommandOutcome[] {
    return this.outcomes.filter((o) => o.command.id === commandId).map((o) => o.outcome);
  }
}

/**
 * testAuth stands in for the auth interceptor: a Bearer runner token (per-runner or shared)
 * becomes a runner principal through verifyRunnerToken; header "x-test-operator: yes" makes an
 * operator API key principal.
 */
export function testAuth(db: Knex): Interceptor {
  return (next) => async (req) => {
    if (req.header.get("x-test-operator") === "yes") {
      req.contextValues.set(kPrincipal, {
        kind: "apiKey",
        organizationId: "org_operators",
        apiKeyId: "key_operator",
        userId: undefined,
        scopes: ["operator"],
      });
    } else if (req.header.get("x-test-user") === "yes") {
      req.contextValues.set(kPrincipal, {
        kind: "apiKey",
        organizationId: "org_someone",
        apiKeyId: "key_user",
        userId: undefined,
        scopes: ["*"],
      });
    } else {
      const token = (req.header.get("authorization") ?? "").replace(/^Bearer /, "");
      const runnerId = await verifyRunnerToken(db, token, SHARED_TOKEN);
      if (runnerId === undefined) throw new ConnectError("bad runner token", Code.Unauthenticated);
      req.contextValues.set(kPrincipal, { kind: "runner", runnerId });
    }
    return next(req);
  };
}

/** A control plane: one hub ("replica") behind a real server. */
export interface TestPlane {
  hub: RunnerHub;
  server: GrpcServer;
  url: string;
  port: number;
  /** kill cuts every stream and stops the hub, like a crashed API server. */
  kill(): Promise<void>;
}

/** startPlane builds a hub with `deps` and serves it (port 0, or a given port to restart in place). */
export async function startPlane(
  deps: Omit<RunnerHubDeps, "events" | "locks" | "logger"> & { shared: SharedState },
  port = 0,
  authDb: Knex = deps.db,
): Promise<TestPlane> {
  const hub = new RunnerHub({
    ...deps,
    events: deps.shared.events,
    locks: deps.shared.locks,
    logger: testLogger,
  });
  hub.start();
  const server = await startGrpcServer(
    {
      services: [RunnerService, RunnerAdminService],
      routes: (router) => {
        router.service(RunnerService, new RunnerHandler(hub));
        router.service(RunnerAdminService, new RunnerAdminHandler(hub.registry));
      },
      interceptors: [testAuth(authDb), createErrorInterceptor(testLogger)],
    },
    { host: "127.0.0.1", port },
  );
  const address = server.address;
  const actualPort = address && typeof address === "object" && "port" in address ? address.port : 0;
  return {
    hub,
    server,
    url: server.url,
    port: actualPort,
    async kill() {
      await server.close(0);
      await hub.stop();
    },
  };
}

/** The real runner client. */
export interface TestRunner {
  stream: ControlStream;
  executor: CommandExecutor;
  driver: MemoryDriver;
  stop(): Promise<void>;
}

/** startRunner runs ControlStream + CommandExecutor over `driver`, dialling `url` with `token`. */
export function startRunner(options: {
  url: string;
  token: string;
  runnerId: string;
  driver?: MemoryDriver;
}): TestRunner {
  const driver = options.driver ?? new MemoryDriver();
  const transport = createGrpcTransport({
    baseUrl: options.url,
    interceptors: [
      (next) => (req) => {
        req.header.set("authorization", `Bearer ${options.token}`);
        return next(req);
      },
    ],
  });
  let stream: ControlStream | undefined;
  const executor = new CommandExecutor(driver, (out) => stream?.deliver(out), testLogger);
  stream = new ControlStream(
    transport,
    {
      runnerId: options.runnerId,
      name: `host-${options.runnerId}`,
      version: "0.1.0",
      region: "test-1",
      capacity: { cpuMillicores: 4000, memoryMib: 8192, diskMib: 20480, maxSandboxes: 10 },
      toolboxGatewayUrl: "http://127.0.0.1:3003",
    },
    driver,
    executor,
    testLogger,
    { heartbeatMs: 1_000, minBackoffMs: 50, maxBackoffMs: 300 },
  );
  const running = stream.run();
  const control = stream;
  return {
    stream: control,
    executor,
    driver,
    async stop() {
      control.stop();
      await running;
      await executor.idle();
    },
  };
}

/** waitFor polls `check` until it holds (or throws after timeoutMs). */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 15_000,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** sleep waits ms. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A TCP proxy in front of Postgres whose link can be cut and restored. */
export interface CuttableProxy {
  /** postgres:// URL through the proxy, for the given database URL. */
  url: string;
  /** cut drops every open connection and refuses new ones. */
  cut(): void;
  /** restore accepts connections again. */
  restore(): void;
  /** close stops the proxy. */
  close(): Promise<void>;
}

/** startCuttableProxy forwards a local port to the Postgres of `databaseUrl`. */
export async function startCuttableProxy(databaseUrl: string): Promise<CuttableProxy> {
  const target = new URL(databaseUrl);
  const sockets = new Set<net.Socket>();
  let down = false;
  const server = net.createServer((client) => {
    if (down) {
      client.destroy();
      return;
    }
    const upstream = net.connect(Number(target.port), target.hostname);
    sockets.add(client);
    sockets.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("error", drop);
    upstream.on("error", drop);
    client.on("close", drop);
    upstream.on("close", drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address() as net.AddressInfo;
  const url = new URL(databaseUrl);
  url.hostname = "127.0.0.1";
  url.port = String(address.port);
  return {
    url: url.toString(),
    cut() {
      down = true;
      for (const socket of sockets) socket.destroy();
      sockets.clear();
    },
    restore() {
      down = false;
    },
    async close() {
      down = true;
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
