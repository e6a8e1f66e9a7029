import { fromBinary } from "@bufbuild/protobuf";
import {
  type Client,
  Code,
  ConnectError,
  createClient,
  type Interceptor,
} from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import {
  createErrorInterceptor,
  createLogger,
  type GrpcServer,
  startGrpcServer,
} from "@cove/common";
import { type RunnerCommand, RunnerCommandSchema } from "@cove/gen-ts/cove/runner/v1/runner_pb.js";
import { SandboxService } from "@cove/gen-ts/cove/sandbox/v1/sandbox_service_pb.js";
import { ErrorInfoSchema } from "@cove/gen-ts/google/rpc/error_details_pb.js";
import type { Knex } from "knex";
import { SandboxManager, type SandboxManagerDeps } from "../src/domain/sandbox/manager.js";
import type {
  CommandDispatcher,
  OutboxCommand,
  SandboxStateName,
} from "../src/domain/sandbox/ports.js";
import { SandboxHandler } from "../src/handlers/sandbox-handler.js";
import { createMemorySharedState } from "../src/shared/memory-state.js";
import type { EventBus, SharedState } from "../src/shared/shared-state.js";
import { asPrincipal } from "./as-principal.js";
import { createTestDatabase, type TestDatabase } from "./database.js";

/** A CommandDispatcher that records which runners were told about new commands. */
export class RecordingDispatcher implements CommandDispatcher {
  /** Runner ids, in the order notify was called. */
  readonly notified: string[] = [];

  notify(runnerId: string): void {
    this.notified.push(runnerId);
  }
}

/** An EventBus wrapper that counts live subscriptions per channel (to see waits and watches end). */
export class CountingEventBus implements EventBus {
  /** Live subscriptions per channel. */
  readonly live = new Map<string, number>();

  constructor(private readonly inner: EventBus) {}

  publish(channel: string, event: unknown): Promise<number> {
    return this.inner.publish(channel, event);
  }

  async subscribe(
    channel: string,
    handler: (event: unknown) => void,
  ): Promise<() => Promise<void>> {
    const unsubscribe = await this.inner.subscribe(channel, handler);
    this.live.set(channel, (this.live.get(channel) ?? 0) + 1);
    let done = false;
    return async () => {
      if (done) return;
      done = true;
      this.live.set(channel, (this.live.get(channel) ?? 1) - 1);
      await unsubscribe();
    };
  }
}

/** A sandbox lifecycle on a real Postgres, served by a real Cove server on port 0. */
export interface SandboxEnv {
  /** The test database. */
  t: TestDatabase;
  /** Its knex pool. */
  db: Knex;
  /** In-process shared state (events, locks). */
  shared: SharedState;
  /** The lifecycle's event bus, counting subscriptions. */
  events: CountingEventBus;
  /** What the lifecycle told the "hub". */
  dispatcher: RecordingDispatcher;
  /** The lifecycle under test. */
  manager: SandboxManager;
  /** The server. */
  server: GrpcServer;
  /** client calls SandboxService as an API key of `organizationId` with scope "*". */
  client(organizationId: string): Client<typeof SandboxService>;
  /** close stops the server and drops the database. */
  close(): Promise<void>;
}

const ORG_HEADER = "x-test-organization";

/** startSandboxEnv starts the lifecycle and its handler behind the real server runtime. */
export async function startSandboxEnv(
  options: SandboxManagerDeps["options"] = {},
): Promise<SandboxEnv> {
  const t = await createTestDatabase();
  const shared = createMemorySharedState();
  const dispatcher = new RecordingDispatcher();
  const events = new CountingEventBus(shared.events);
  const logger = createLogger({ level: "silent" });
  const manager = new SandboxManager({
    db: t.db,
    events,
    dispatcher,
    logger,
    options: { pollMs: 200, ...options },
  });
  // The principal comes from a test header: one server serves every organization.
  const byOrganization: Interceptor = (next) => (req) =>
    asPrincipal({
      kind: "apiKey",
      organizationId: req.header.get(ORG_HEADER) ?? "",
      apiKeyId: "key_test",
      userId: undefined,
      scopes: ["*"],
    })(next)(req);
  const server = await startGrpcServer(
    {
      services: [SandboxService],
      routes: (router) => router.service(SandboxService, new SandboxHandler(manager)),
      interceptors: [byOrganization, createErrorInterceptor(logger)],
    },
    { host: "127.0.0.1", port: 0 },
  );
  return {
    t,
    db: t.db,
    shared,
    events,
    dispatcher,
    manager,
    server,
    client(organizationId) {
      const transport = createGrpcTransport({
        baseUrl: server.url,
        interceptors: [
          (next) => (req) => {
            req.header.set(ORG_HEADER, organizationId);
            return next(req);
          },
        ],
        defaultTimeoutMs: 30_000,
      });
      return createClient(SandboxService, transport);
    },
    async close() {
      await server.close(200);
      await t.drop();
    },
  };
}

/** addOrganization inserts an organization with optional quota overrides (column names). */
export async function addOrganization(
  db: Knex,
  id: string,
  quota: Record<string, number> = {},
): Promise<void> {
  await db("organizations").insert({ id, name: id, ...quota });
}

/** addRunner inserts a CONNECTED runner with a fresh heartbeat and room for 100 sandboxes. */
export async function addRunner(
  db: Knex,
  id: string,
  fields: Record<string, unknown> = {},
): Promise<void> {
  const now = new Date();
  await db("runners").insert({
    id,
    name: id,
    state: "CONNECTED",
    region: "",
    cpu_millicores: 64_000,
    memory_mib: 256_000,
    disk_mib: 1_000_000,
    max_sandboxes: 100,
    runtimes: ["runc", "runsc"],
    connect_time: now,
    last_heartbeat_time: now,
    ...fields,
  });
}

/** A command row with its decoded payload. */
export interface OutboxRow {
  /** Row fields. */
  id: string;
  runner_id: string;
  sandbox_id: string | null;
  kind: string;
  state: string;
  error_reason: string;
  create_time: Date;
  /** The decoded RunnerCommand. */
  command: RunnerCommand;
}

/**
 * FakeRunner plays a runner and the hub: it reads what the lifecycle put in the outbox, marks
 * commands sent and finished as the hub would, and feeds results and reports to the
 * SandboxStateSink.
 */
export class FakeRunner {
  constructor(
    private readonly env: SandboxEnv,
    readonly runnerId: string,
  ) {}

  /** commands lists this runner's commands (optionally for one sandbox), oldest first. */
  async commands(sandboxId?: string): Promise<OutboxRow[]> {
    const query = this.env.db("runner_commands").where({ runner_id: this.runnerId });
    if (sandboxId) query.where({ sandbox_id: sandboxId });
    const rows = await query.orderBy("create_time").select("*");
    return rows.map((row: OutboxRow & { payload: Buffer }) => ({
      ...row,
      command: fromBinary(RunnerCommandSchema, new Uint8Array(row.payload)),
    }));
  }

  /**
   * nextCommand waits for an unfinished command of `kind`: for one sandbox (an id), or the
   * first one created at or after a time (a Date).
   */
  async nextCommand(kind: string, of?: string | Date, timeoutMs = 5_000): Promise<OutboxRow> {
    const sandboxId = typeof of === "string" ? of : undefined;
    const since = of instanceof Date ? of.getTime() : 0;
    const until = Date.now() + timeoutMs;
    for (;;) {
      const found = (await this.commands(sandboxId)).find(
        (c) =>
          c.kind === kind &&
          ["PENDING", "SENT", "ACKED"].includes(c.state) &&
          new Date(c.create_time).getTime() >= since,
      );
      if (found) return found;
      if (Date.now() > until)
        throw new Error(`no ${kind} command for ${sandboxId ?? "any sandbox"}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** send marks a command SENT, as the hub does when it delivers it. */
  async send(command: OutboxRow): Promise<void> {
    await this.env
      .db("runner_commands")
      .where({ id: command.id })
      .update({ state: "SENT", send_time: new Date(), attempt: 1 });
  }

  /** succeed delivers a command and reports its success (the hub calls the sink, then marks DONE). */
  async succeed(command: OutboxRow, state: SandboxStateName, daemonSocketPath = ""): Promise<void> {
    await this.send(command);
    await this.env.manager.applyCommandOutcome(outbox(command), {
      ok: true,
      report: command.sandbox_id
        ? {
            sandboxId: command.sandbox_id,
            state,
            errorReason: "",
            errorMessage: "",
            observeTime: new Date(),
          }
        : undefined,
      daemonSocketPath,
    });
    await this.env.db("runner_commands").where({ id: command.id }).update({ state: "DONE" });
  }

  /** fail delivers a command and reports its failure. */
  async fail(command: OutboxRow, reason: string, message: string): Promise<void> {
    await this.send(command);
    await this.env.manager.applyCommandOutcome(outbox(command), {
      ok: false,
      reason,
      message,
      retryable: false,
    });
    await this.env
      .db("runner_commands")
      .where({ id: command.id })
      .update({ state: "FAILED", error_reason: reason, error_message: message });
  }

  /** report sends a state report for a sandbox. */
  async report(
    sandboxId: string,
    state: SandboxStateName,
    extra: { errorReason?: string; errorMessage?: string; observeTime?: Date } = {},
  ): Promise<void> {
    await this.env.manager.applyReport(this.runnerId, {
      sandboxId,
      state,
      errorReason: extra.errorReason ?? "",
      errorMessage: extra.errorMessage ?? "",
      observeTime: extra.observeTime ?? new Date(),
    });
  }
}

function outbox(row: OutboxRow): OutboxCommand {
  return { id: row.id, runnerId: row.runner_id, sandboxId: row.sandbox_id, kind: row.kind };
}

/** rejection awaits a call that must fail and returns its ConnectError and ErrorInfo. */
export async function rejection(call: Promise<unknown>): Promise<{
  code: Code;
  reason: string;
  metadata: Record<string, string>;
  message: string;
  raw: ConnectError;
}> {
  try {
    await call;
  } catch (err) {
    const e = ConnectError.from(err);
    const info = e.findDetails(ErrorInfoSchema)[0];
    return {
      code: e.code,
      reason: info?.reason ?? "",
      metadata: info?.metadata ?? {},
      message: e.rawMessage,
      raw: e,
    };
  }
  throw new Error("the call succeeded but was expected to fail");
}

/** stateOf reads a sandbox's state columns straight from the database. */
export async function stateOf(
  db: Knex,
  sandboxId: string,
): Promise<{
  state: string;
  desired_state: string;
  error_reason: string;
  error_message: string;
  recoverable: boolean;
}> {
  const row = await db("sandboxes")
    .where({ id: sandboxId })
    .first("state", "desired_state", "error_reason", "error_message", "recoverable");
  if (!row) throw new Error(`no sandbox ${sandboxId}`);
  return row;
}

export { Code };
