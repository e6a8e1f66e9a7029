import { create, type DescMessage } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { NetworkPolicyMode, SandboxState } from "@cove/gen-ts/cove/sandbox/v1/sandbox_pb.js";
import {
  SandboxService,
  type WatchSandboxResponse,
} from "@cove/gen-ts/cove/sandbox/v1/sandbox_service_pb.js";
import { sandboxChannel } from "../src/domain/sandbox/events.js";
import {
  addOrganization,
  addRunner,
  FakeRunner,
  rejection,
  type SandboxEnv,
  startSandboxEnv,
  stateOf,
} from "./sandbox-harness.js";

let env: SandboxEnv;
let runner: FakeRunner;
const ORG = "org_life";
const OTHER = "org_other";

beforeAll(async () => {
  // "nope:latest" is public here so that the fake runner, not the image policy, refuses it.
  env = await startSandboxEnv({ watchKeepaliveMs: 300, publicImages: ["nope:latest"] });
  await addOrganization(env.db, ORG, {
    max_sandboxes: 100,
    max_cpu_millicores: 1_000_000,
    max_memory_mib: 1_000_000,
    max_disk_mib: 10_000_000,
  });
  await addOrganization(env.db, OTHER);
  await addRunner(env.db, "runner-1");
  runner = new FakeRunner(env, "runner-1");
});
afterAll(() => env.close());

/** createQuietly creates a sandbox without waiting and returns its id. */
async function createQuietly(labels: Record<string, string> = {}): Promise<string> {
  const res = await env.client(ORG).createSandbox({ wait: false, labels });
  return res.sandbox?.sandboxId ?? "";
}

/** startedSandbox creates a sandbox and plays the runner until it is STARTED. */
async function startedSandbox(): Promise<string> {
  const id = await createQuietly();
  await runner.succeed(await runner.nextCommand("createSandbox", id), "STARTED");
  expect((await stateOf(env.db, id)).state).toBe("STARTED");
  return id;
}

test("create waits for STARTED, then stop, start and delete walk the lifecycle", async () => {
  const client = env.client(ORG);
  const since = new Date();
  const creating = client.createSandbox({
    labels: { app: "demo" },
    env: { GREETING: "hello" },
    resources: { memoryMib: 2048 },
  });
  const create = await runner.nextCommand("createSandbox", since);
  const id = create.sandbox_id ?? "";
  expect(id).toMatch(/^[a-z0-9]{20}$/);
  expect(env.dispatcher.notified).toContain("runner-1");
  // The command carries the spec built from the row, with defaults filled in.
  const spec =
    create.command.command.case === "createSandbox" ? create.command.command.value.spec : undefined;
  expect(spec).toMatchObject({
    sandboxId: id,
    organizationId: ORG,
    image: "cove/sandbox:latest",
    resources: { cpuMillicores: 1000, memoryMib: 2048, diskMib: 3072 },
    env: { GREETING: "hello" },
    labels: { app: "demo" },
    osUser: "cove",
    runtimeClass: "runc",
  });
  expect(spec?.networkPolicy?.mode).toBe(NetworkPolicyMode.BLOCK_ALL);
  // Honest readiness: not answered while the runner is still starting it.
  await runner.report(id, "STARTING");
  const raced = await Promise.race([
    creating.then(() => "answered"),
    delay(300).then(() => "waiting"),
  ]);
  expect(raced).toBe("waiting");
  await runner.succeed(create, "STARTED", "/var/lib/cove/sandboxes/x/daemon.sock");
  const created = (await creating).sandbox;
  expect(created?.state).toBe(SandboxState.STARTED);
  expect(created?.desiredState).toBe(SandboxState.STARTED);
  expect(created?.runnerId).toBe("runner-1");
  expect(created?.labels).toEqual({ app: "demo" });
  const row = await env.db("sandboxes").where({ id }).first("daemon_socket_path");
  expect(row.daemon_socket_path).toBe("/var/lib/cove/sandboxes/x/daemon.sock");

  const stopping = client.stopSandbox({ sandboxId: id });
  const stop = await runner.nextCommand("stopSandbox", id);
  expect((await stateOf(env.db, id)).state).toBe("STOPPING");
  await runner.succeed(stop, "STOPPED");
  expect((await stopping).sandbox?.state).toBe(SandboxState.STOPPED);

  const starting = client.startSandbox({ sandboxId: id });
  await runner.succeed(await runner.nextCommand("startSandbox", id), "STARTED");
  expect((await starting).sandbox?.state).toBe(SandboxState.STARTED);

  const deleting = client.deleteSandbox({ sandboxId: id, wait: true });
  const destroy = await runner.nextCommand("destroySandbox", id);
  expect((await stateOf(env.db, id)).state).toBe("DESTROYING");
  await runner.succeed(destroy, "DESTROYED");
  expect((await deleting).sandbox?.state).toBe(SandboxState.DESTROYED);

  // DESTROYED is kept for listing but hidden unless asked for.
  const listed = await client.listSandboxes({});
  expect(listed.sandboxes.map((s) => s.sandboxId)).not.toContain(id);
  const destroyed = await client.listSandboxes({ states: [SandboxState.DESTROYED] });
  expect(destroyed.sandboxes.map((s) => s.sandboxId)).toContain(id);
  expect((await client.getSandbox({ sandboxId: id })).sandbox?.runnerId).toBe("");
});

test("create with wait fails with the error the runner reported", async () => {
  const client = env.client(ORG);
  // A failed command: the error matches the reason (IMAGE_NOT_FOUND is NOT_FOUND).
  let since = new Date();
  const missingImage = client.createSandbox({ source: { case: "image", value: "nope:latest" } });
  const create = await runner.nextCommand("createSandbox", since);
  await runner.fail(create, "IMAGE_NOT_FOUND", "manifest for nope:latest not found");
  const err = await rejection(missingImage);
  expect(err.code).toBe(Code.NotFound);
  expect(err.reason).toBe("IMAGE_NOT_FOUND");
  expect(err.metadata.sandboxId).toBe(create.sandbox_id);
  expect(err.metadata.sandbox_id).toBe(create.sandbox_id);
  expect(err.message).toContain("manifest for nope:latest not found");
  const failed = await stateOf(env.db, create.sandbox_id ?? "");
  expect(failed).toMatchObject({
    state: "ERROR",
    error_reason: "IMAGE_NOT_FOUND",
    recoverable: false,
  });

  // An ERROR report while starting: FAILED_PRECONDITION SANDBOX_START_FAILED, recoverable.
  since = new Date();
  const broken = client.createSandbox({});
  const second = await runner.nextCommand("createSandbox", since);
  const id = second.sandbox_id ?? "";
  await runner.report(id, "ERROR", {
    errorReason: "SANDBOX_START_FAILED",
    errorMessage: "the daemon did not answer within 30s",
  });
  const startErr = await rejection(broken);
  expect(startErr.code).toBe(Code.FailedPrecondition);
  expect(startErr.reason).toBe("SANDBOX_START_FAILED");
  expect(startErr.message).toContain("the daemon did not answer");

  // Recover re-sends createSandbox (the runner reuses the container) and waits for STARTED.
  await runner.fail(second, "SANDBOX_START_FAILED", "the daemon did not answer within 30s");
  const recovering = client.recoverSandbox({ sandboxId: id });
  const again = await runner.nextCommand("createSandbox", id);
  expect(again.id).not.toBe(second.id);
  expect((await stateOf(env.db, id)).state).toBe("CREATING");
  await runner.succeed(again, "STARTED");
  expect((await recovering).sandbox?.state).toBe(SandboxState.STARTED);

  // Not recoverable: only delete helps.
  const notRecoverable = await rejection(
    client.recoverSandbox({ sandboxId: create.sandbox_id ?? "" }),
  );
  expect(notRecoverable.code).toBe(Code.FailedPrecondition);
  expect(notRecoverable.reason).toBe("SANDBOX_NOT_RECOVERABLE");
});

test("create with wait gives up after wait_timeout with WAIT_TIMED_OUT; the sandbox carries on", async () => {
  const err = await rejection(env.client(ORG).createSandbox({ waitTimeout: durationFromMs(500) }));
  expect(err.code).toBe(Code.DeadlineExceeded);
  expect(err.reason).toBe("WAIT_TIMED_OUT");
  expect(err.metadata).toMatchObject({ state: "CREATING", targetState: "STARTED" });
  // The id of what the failed create made, so the caller (or the SDK) can delete it.
  expect(err.metadata.sandbox_id).toMatch(/^[a-z0-9]{20}$/);
  expect((await stateOf(env.db, err.metadata.sandboxId ?? "")).state).toBe("CREATING");
});

test("a client that goes away ends the server's wait", async () => {
  const controller = new AbortController();
  const since = new Date();
  const call = env.client(ORG).createSandbox({}, { signal: controller.signal });
  const id = (await runner.nextCommand("createSandbox", since)).sandbox_id ?? "";
  const channel = sandboxChannel(id);
  await until(() => env.events.live.get(channel) === 1);
  controller.abort();
  expect((await rejection(call)).code).toBe(Code.Canceled);
  await until(() => env.events.live.get(channel) === 0);
  // Same for a watch.
  const watcher = new AbortController();
  const stream = env.client(ORG).watchSandbox({ sandboxId: id }, { signal: watcher.signal });
  const iterator = stream[Symbol.asyncIterator]();
  await iterator.next();
  expect(env.events.live.get(channel)).toBe(1);
  watcher.abort();
  await rejection(iterator.next());
  await until(() => env.events.live.get(channel) === 0);
});

test("calls check the state table and say which states are allowed", async () => {
  const client = env.client(ORG);
  const id = await startedSandbox();
  // Stop of a STOPPED sandbox returns it as is; archive is honest about being unsupported.
  const stopping = client.stopSandbox({ sandboxId: id, force: true });
  const stop = await runner.nextCommand("stopSandbox", id);
  expect(
    stop.command.command.case === "stopSandbox" && stop.command.command.value.gracePeriod,
  ).toEqual(durationFromMs(0));
  await runner.succeed(stop, "STOPPED");
  await stopping;
  expect((await client.stopSandbox({ sandboxId: id })).sandbox?.state).toBe(SandboxState.STOPPED);
  const archive = await rejection(client.archiveSandbox({ sandboxId: id }));
  expect(archive.code).toBe(Code.FailedPrecondition);
  expect(archive.reason).toBe("ARCHIVE_FAILED");
  expect(archive.message).toContain("not supported yet");
  // Recover from a state that is not ERROR.
  const recover = await rejection(client.recoverSandbox({ sandboxId: id }));
  expect(recover.code).toBe(Code.FailedPrecondition);
  expect(recover.reason).toBe("SANDBOX_STATE_CONFLICT");
  expect(recover.metadata).toMatchObject({
    sandboxId: id,
    state: "STOPPED",
    allowedStates: "ERROR",
  });
  // Start from ERROR is a conflict listing where start is allowed.
  await runner.report(id, "ERROR", { errorReason: "OUT_OF_MEMORY", errorMessage: "oom" });
  const start = await rejection(client.startSandbox({ sandboxId: id }));
  expect(start.reason).toBe("SANDBOX_STATE_CONFLICT");
  expect(start.metadata.state).toBe("ERROR");
  expect(start.metadata.allowedStates?.split(",")).toEqual(
    expect.arrayContaining(["STOPPED", "STARTED", "CREATING"]),
  );
  expect(start.metadata.allowedStates).not.toContain("ERROR");
});

test("delete works from every state", async () => {
  const client = env.client(ORG);
  // CREATING and the runner never got the create: DESTROYED at once, the create cancelled.
  const fresh = await createQuietly();
  const pendingCreate = await runner.nextCommand("createSandbox", fresh);
  expect((await client.deleteSandbox({ sandboxId: fresh })).sandbox?.state).toBe(
    SandboxState.DESTROYED,
  );
  const freshCommands = await runner.commands(fresh);
  expect(freshCommands.find((c) => c.id === pendingCreate.id)).toMatchObject({
    state: "FAILED",
    error_reason: "COMMAND_CANCELLED",
  });
  // The idempotent destroy still goes out, in case the runner got the create after all.
  expect(freshCommands.map((c) => c.kind)).toContain("destroySandbox");

  // CREATING and delivered, no answer yet: DESTROYING, then DESTROYED when the runner confirms.
  const inFlight = await createQuietly();
  const create = await runner.nextCommand("createSandbox", inFlight);
  await runner.send(create);
  expect((await client.deleteSandbox({ sandboxId: inFlight })).sandbox?.state).toBe(
    SandboxState.DESTROYING,
  );
  // The create's late success does not resurrect it.
  await runner.succeed(create, "STARTED");
  expect((await stateOf(env.db, inFlight)).state).toBe("DESTROYING");
  await runner.succeed(await runner.nextCommand("destroySandbox", inFlight), "DESTROYED");
  expect((await stateOf(env.db, inFlight)).state).toBe("DESTROYED");

  // ERROR.
  const errored = await createQuietly();
  await runner.fail(
    await runner.nextCommand("createSandbox", errored),
    "SANDBOX_START_FAILED",
    "boom",
  );
  expect((await client.deleteSandbox({ sandboxId: errored })).sandbox?.state).toBe(
    SandboxState.DESTROYING,
  );
  await runner.succeed(await runner.nextCommand("destroySandbox", errored), "DESTROYED");
  expect((await stateOf(env.db, errored)).state).toBe("DESTROYED");

  // A destroy that fails: ERROR with the reason, and delete from there still works.
  const stubborn = await startedSandbox();
  await client.deleteSandbox({ sandboxId: stubborn });
  await runner.fail(
    await runner.nextCommand("destroySandbox", stubborn),
    "INTERNAL",
    "device busy",
  );
  expect(await stateOf(env.db, stubborn)).toMatchObject({
    state: "ERROR",
    desired_state: "DESTROYED",
    error_reason: "INTERNAL",
  });
  expect((await client.deleteSandbox({ sandboxId: stubborn })).sandbox?.state).toBe(
    SandboxState.DESTROYING,
  );
  await runner.succeed(await runner.nextCommand("destroySandbox", stubborn), "DESTROYED");
  expect((await stateOf(env.db, stubborn)).state).toBe("DESTROYED");

  // STOPPING.
  const stopping = await startedSandbox();
  await client.stopSandbox({ sandboxId: stopping, wait: false });
  expect((await client.deleteSandbox({ sandboxId: stopping })).sandbox?.state).toBe(
    SandboxState.DESTROYING,
  );

  // A sandbox never placed on a runner.
  await env.db("sandboxes").insert({
    id: "unplacedsandbox00001",
    organization_id: ORG,
    image: "cove/sandbox:latest",
    state: "PENDING_BUILD",
    desired_state: "STARTED",
    cpu_millicores: 1000,
    memory_mib: 1024,
    disk_mib: 3072,
  });
  expect((await client.deleteSandbox({ sandboxId: "unplacedsandbox00001" })).sandbox?.state).toBe(
    SandboxState.DESTROYED,
  );

  // STARTED on a runner that is gone: nothing to wait for.
  await addRunner(env.db, "runner-gone");
  const lost = new FakeRunner(env, "runner-gone");
  await env.db("runners").where({ id: "runner-1" }).update({ draining: true });
  const onLost = await createQuietly();
  await env.db("runners").where({ id: "runner-1" }).update({ draining: false });
  await lost.succeed(await lost.nextCommand("createSandbox", onLost), "STARTED");
  await env.db("runners").where({ id: "runner-gone" }).update({ state: "DISCONNECTED" });
  expect((await client.deleteSandbox({ sandboxId: onLost })).sandbox?.state).toBe(
    SandboxState.DESTROYED,
  );

  // DESTROYED: succeeds, unchanged.
  expect((await client.deleteSandbox({ sandboxId: onLost })).sandbox?.state).toBe(
    SandboxState.DESTROYED,
  );
});

test("another organization's sandbox is NOT_FOUND on every RPC that takes a sandbox_id", async () => {
  const id = await startedSandbox();
  const outsider = env.client(OTHER);
  // Every method whose request has sandbox_id, from the descriptor, so new RPCs are covered.
  const methods = SandboxService.methods.filter((m) =>
    m.input.fields.some((f) => f.name === "sandbox_id"),
  );
  expect(methods.length).toBeGreaterThanOrEqual(12);
  for (const method of methods) {
    const request = requestFor(method.input, id);
    const client = outsider as unknown as Record<string, (req: unknown) => unknown>;
    const call = client[method.localName];
    if (!call) throw new Error(`no client method ${method.localName}`);
    const result = call.call(outsider, request);
    const err =
      method.methodKind === "server_streaming"
        ? await rejection(firstOf(result as AsyncIterable<unknown>))
        : await rejection(result as Promise<unknown>);
    expect({ method: method.name, code: err.code, reason: err.reason }).toEqual({
      method: method.name,
      code: Code.NotFound,
      reason: "SANDBOX_NOT_FOUND",
    });
  }
  // A missing id is a bad request, not a lookup.
  const empty = await rejection(outsider.getSandbox({ sandboxId: "" }));
  expect(empty).toMatchObject({ code: Code.InvalidArgument, reason: "INVALID_FIELD" });
  // Nothing happened to it, and it is not listed for the outsider.
  expect((await stateOf(env.db, id)).state).toBe("STARTED");
  expect((await outsider.listSandboxes({})).sandboxes).toEqual([]);
});

test("WatchSandbox streams the transitions in order, keepalives, and ends at DESTROYED", async () => {
  const id = await createQuietly();
  const create = await runner.nextCommand("createSandbox", id);
  const stream = env.client(ORG).watchSandbox({ sandboxId: id })[Symbol.asyncIterator]();
  const next = async (): Promise<WatchSandboxResponse> => {
    for (;;) {
      const r = await stream.next();
      if (r.done) throw new Error("stream ended");
      if (r.value.event.case !== "keepalive") return r.value;
    }
  };
  const change = async () => {
    const event = (await next()).event;
    if (event.case !== "stateChange") throw new Error(`expected a state change, got ${event.case}`);
    return [SandboxState[event.value.previousState], SandboxState[event.value.sandbox?.state ?? 0]];
  };
  const first = await stream.next();
  expect(first.value?.event.case).toBe("initial");
  expect(first.value?.event.case === "initial" && first.value.event.value.state).toBe(
    SandboxState.CREATING,
  );
  // Idle: a keepalive arrives (interval 300 ms in this suite).
  const idle = await stream.next();
  expect(idle.value?.event.case).toBe("keepalive");

  await runner.report(id, "STARTING");
  expect(await change()).toEqual(["CREATING", "STARTING"]);
  await runner.succeed(create, "STARTED");
  expect(await change()).toEqual(["STARTING", "STARTED"]);
  await env.client(ORG).stopSandbox({ sandboxId: id, wait: false });
  expect(await change()).toEqual(["STARTED", "STOPPING"]);
  await runner.succeed(await runner.nextCommand("stopSandbox", id), "STOPPED");
  expect(await change()).toEqual(["STOPPING", "STOPPED"]);
  await env.client(ORG).deleteSandbox({ sandboxId: id });
  expect(await change()).toEqual(["STOPPED", "DESTROYING"]);
  await runner.succeed(await runner.nextCommand("destroySandbox", id), "DESTROYED");
  expect(await change()).toEqual(["DESTROYING", "DESTROYED"]);
  expect((await stream.next()).done).toBe(true);
});

test("ListSandboxes pages newest first with opaque tokens and filters by label and state", async () => {
  const client = env.client(ORG);
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) ids.push(await createQuietly({ batch: "paging" }));
  const seen: string[] = [];
  let token = "";
  let pages = 0;
  do {
    const page = await client.listSandboxes({
      pageSize: 2,
      pageToken: token,
      labels: { batch: "paging" },
    });
    seen.push(...page.sandboxes.map((s) => s.sandboxId));
    token = page.nextPageToken;
    pages++;
  } while (token !== "");
  expect(pages).toBe(3);
  expect(seen).toEqual([...ids].reverse());
  // A token is bound to its filters.
  const first = await client.listSandboxes({ pageSize: 2, labels: { batch: "paging" } });
  const bad = await rejection(client.listSandboxes({ pageToken: first.nextPageToken }));
  expect(bad).toMatchObject({ code: Code.InvalidArgument, reason: "INVALID_FIELD" });
  const garbage = await rejection(client.listSandboxes({ pageToken: "not-a-token" }));
  expect(garbage.code).toBe(Code.InvalidArgument);
  const creating = await client.listSandboxes({
    labels: { batch: "paging" },
    states: [SandboxState.CREATING],
  });
  expect(creating.sandboxes).toHaveLength(5);
  const started = await client.listSandboxes({
    labels: { batch: "paging" },
    states: [SandboxState.STARTED],
  });
  expect(started.sandboxes).toHaveLength(0);
});

test("UpdateSandbox changes labels and intervals, rejects unknown paths and DESTROYED", async () => {
  const client = env.client(ORG);
  const id = await createQuietly({ a: "1" });
  const updated = await client.updateSandbox({
    sandboxId: id,
    updateMask: { paths: ["labels", "auto_stop_interval", "public"] },
    labels: { b: "2" },
    autoStopInterval: durationFromMs(30 * 60_000),
  });
  expect(updated.sandbox?.labels).toEqual({ b: "2" });
  expect(Number(updated.sandbox?.autoStopInterval?.seconds)).toBe(1800);
  expect(updated.sandbox?.public).toBe(false);
  const odd = await rejection(
    client.updateSandbox({ sandboxId: id, updateMask: { paths: ["image"] } }),
  );
  expect(odd).toMatchObject({ code: Code.InvalidArgument, reason: "INVALID_FIELD" });
  const minutes = await rejection(
    client.updateSandbox({ sandboxId: id, autoStopInterval: durationFromMs(90_000) }),
  );
  expect(minutes.code).toBe(Code.InvalidArgument);
  await client.deleteSandbox({ sandboxId: id });
  const gone = await rejection(client.updateSandbox({ sandboxId: id, labels: { c: "3" } }));
  expect(gone).toMatchObject({ code: Code.FailedPrecondition, reason: "SANDBOX_STATE_CONFLICT" });
});

async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await delay(10);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function firstOf(stream: AsyncIterable<unknown>): Promise<unknown> {
  for await (const item of stream) return item;
  return undefined;
}

/** requestFor builds a valid request of any SandboxService method for one sandbox id. */
function requestFor(desc: DescMessage, sandboxId: string): unknown {
  const init: Record<string, unknown> = { sandboxId };
  if (desc.fields.some((f) => f.name === "port")) init.port = 8080;
  if (desc.fields.some((f) => f.name === "wait")) init.wait = false;
  return create(desc, init);
}
