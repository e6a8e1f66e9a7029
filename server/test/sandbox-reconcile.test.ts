import { Code } from "@connectrpc/connect";
import { CoveError } from "@cove/common";
import { SandboxState } from "@cove/gen-ts/cove/sandbox/v1/sandbox_pb.js";
import { verifyAccessToken } from "../src/domain/sandbox/access-tokens.js";
import { SandboxTimers, SWEEP_LOCK } from "../src/domain/sandbox/timers.js";
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
let timers: SandboxTimers;
const ORG = "org_rec";

beforeAll(async () => {
  env = await startSandboxEnv();
  await addOrganization(env.db, ORG, {
    max_sandboxes: 1000,
    max_cpu_millicores: 1_000_000,
    max_memory_mib: 10_000_000,
    max_disk_mib: 100_000_000,
  });
  await addRunner(env.db, "runner-r");
  runner = new FakeRunner(env, "runner-r");
  timers = new SandboxTimers({ db: env.db, locks: env.shared.locks, manager: env.manager });
});
afterAll(() => env.close());

async function create(): Promise<string> {
  return (await env.client(ORG).createSandbox({ wait: false })).sandbox?.sandboxId ?? "";
}

async function started(): Promise<string> {
  const id = await create();
  await runner.succeed(await runner.nextCommand("createSandbox", id), "STARTED");
  return id;
}

async function stopped(): Promise<string> {
  const id = await started();
  await env.client(ORG).stopSandbox({ sandboxId: id, wait: false });
  await runner.succeed(await runner.nextCommand("stopSandbox", id), "STOPPED");
  return id;
}

test("a command stuck past its deadline fails, and its sandbox goes to ERROR with a reason", async () => {
  const id = await create();
  const command = await runner.nextCommand("createSandbox", id);
  await runner.send(command);
  // Not yet past the deadline: nothing happens.
  expect((await timers.sweep())?.expiredCommands).toBe(0);
  const later = new Date(Date.now() + 6 * 60_000);
  await env
    .db("runner_commands")
    .where({ id: command.id })
    .update({ deadline_time: new Date(Date.now() - 1) });
  expect((await timers.sweep(later))?.expiredCommands).toBe(1);
  expect(
    await env.db("runner_commands").where({ id: command.id }).first("state", "error_reason"),
  ).toEqual({
    state: "FAILED",
    error_reason: "COMMAND_DEADLINE_EXCEEDED",
  });
  const sandbox = await stateOf(env.db, id);
  expect(sandbox).toMatchObject({
    state: "ERROR",
    error_reason: "COMMAND_DEADLINE_EXCEEDED",
    recoverable: true,
  });
  expect(sandbox.error_message).toContain("did not finish createSandbox");
  // A stuck stop, the same way; delete from there still works.
  const s = await started();
  await env.client(ORG).stopSandbox({ sandboxId: s, wait: false });
  const stop = await runner.nextCommand("stopSandbox", s);
  await env
    .db("runner_commands")
    .where({ id: stop.id })
    .update({ deadline_time: new Date(Date.now() - 1) });
  await timers.sweep();
  expect(await stateOf(env.db, s)).toMatchObject({ state: "ERROR", desired_state: "STOPPED" });
  // Recover re-sends the stop.
  const recovering = env.client(ORG).recoverSandbox({ sandboxId: s });
  await runner.succeed(await runner.nextCommand("stopSandbox", s), "STOPPED");
  expect((await recovering).sandbox?.state).toBe(SandboxState.STOPPED);
});

test("a transitional state with no live command does not last forever", async () => {
  const id = await create();
  const command = await runner.nextCommand("createSandbox", id);
  // The hub finished the command but never told the lifecycle.
  await env.db("runner_commands").where({ id: command.id }).update({ state: "DONE" });
  expect((await timers.sweep())?.stuck).toBe(0);
  const later = new Date(Date.now() + 11 * 60_000);
  expect((await timers.sweep(later))?.stuck).toBe(1);
  expect(await stateOf(env.db, id)).toMatchObject({
    state: "ERROR",
    error_reason: "COMMAND_DEADLINE_EXCEEDED",
    recoverable: true,
  });
});

test("only one replica sweeps at a time", async () => {
  const held = await env.shared.locks.acquire(SWEEP_LOCK, 10_000, 0);
  expect(await timers.sweep()).toBeUndefined();
  await held?.release();
  expect(await timers.sweep()).toBeDefined();
});

test("auto-stop stops idle sandboxes; auto-delete deletes long-stopped ones", async () => {
  const idle = await started();
  const busy = await started();
  const never = await started();
  await env.db("sandboxes").where({ id: never }).update({ auto_stop_seconds: 0 });
  const old = new Date(Date.now() - 16 * 60_000);
  await env.db("sandboxes").whereIn("id", [idle, never]).update({ last_activity_time: old });
  const result = await timers.sweep();
  expect(result?.autoStopped).toBe(1);
  expect(await stateOf(env.db, idle)).toMatchObject({
    state: "STOPPING",
    desired_state: "STOPPED",
  });
  expect((await runner.nextCommand("stopSandbox", idle)).kind).toBe("stopSandbox");
  expect((await stateOf(env.db, busy)).state).toBe("STARTED");
  expect((await stateOf(env.db, never)).state).toBe("STARTED");

  const gone = await stopped();
  await env
    .db("sandboxes")
    .where({ id: gone })
    .update({
      auto_delete_seconds: 3600,
      state_change_time: new Date(Date.now() - 2 * 3600_000),
    });
  expect((await timers.sweep())?.autoDeleted).toBe(1);
  expect(await stateOf(env.db, gone)).toMatchObject({
    state: "DESTROYING",
    desired_state: "DESTROYED",
  });
});

test("the timer loop starts and stops", async () => {
  const looping = new SandboxTimers({
    db: env.db,
    locks: env.shared.locks,
    manager: env.manager,
    options: { intervalMs: 20 },
  });
  const idle = await started();
  await env
    .db("sandboxes")
    .where({ id: idle })
    .update({ last_activity_time: new Date(0) });
  looping.start();
  const until = Date.now() + 5_000;
  while ((await stateOf(env.db, idle)).state !== "STOPPING" && Date.now() < until)
    await new Promise((r) => setTimeout(r, 20));
  await looping.stop();
  expect((await stateOf(env.db, idle)).state).toBe("STOPPING");
});

test("reports are believed only from the sandbox's runner, when fresh and on the way to the desired state", async () => {
  const id = await create();
  const stranger = new FakeRunner(env, "runner-other");
  await addRunner(env.db, "runner-other", { draining: true });
  await stranger.report(id, "STARTED");
  expect((await stateOf(env.db, id)).state).toBe("CREATING");
  await runner.report(id, "STARTED", { observeTime: new Date(Date.now() - 60_000) });
  expect((await stateOf(env.db, id)).state).toBe("CREATING");
  await runner.report(id, "STARTING");
  expect((await stateOf(env.db, id)).state).toBe("STARTING");
  // Being stopped: a STARTED observation is stale news.
  await runner.report(id, "STARTED");
  await env.client(ORG).stopSandbox({ sandboxId: id, wait: false });
  await runner.report(id, "STARTED");
  expect((await stateOf(env.db, id)).state).toBe("STOPPING");
  // A container that stops by itself while it should run is an error with a reason.
  const s = await started();
  await runner.report(s, "STOPPED", {
    errorReason: "SANDBOX_EXITED",
    errorMessage: "the sandbox's daemon exited with code 0 although nobody asked it to stop",
  });
  expect(await stateOf(env.db, s)).toMatchObject({
    state: "ERROR",
    error_reason: "SANDBOX_EXITED",
    recoverable: true,
  });
  // And an OOM report is kept verbatim.
  const o = await started();
  await runner.report(o, "ERROR", {
    errorReason: "OUT_OF_MEMORY",
    errorMessage: "killed by the OOM killer",
  });
  expect(await stateOf(env.db, o)).toMatchObject({ state: "ERROR", error_reason: "OUT_OF_MEMORY" });
  const got = await rejection(env.client(ORG).startSandbox({ sandboxId: o }));
  expect(got.reason).toBe("SANDBOX_STATE_CONFLICT");
});

test("reconcileInventory marks vanished rows ERROR, finishes destroys and returns orphans", async () => {
  await addRunner(env.db, "runner-inv");
  const inv = new FakeRunner(env, "runner-inv");
  await env.db("runners").whereNot({ id: "runner-inv" }).update({ draining: true });
  const mk = async () =>
    (await env.client(ORG).createSandbox({ wait: false })).sandbox?.sandboxId ?? "";
  const vanished = await mk();
  await inv.succeed(await inv.nextCommand("createSandbox", vanished), "STARTED");
  const stoppedGone = await mk();
  await inv.succeed(await inv.nextCommand("createSandbox", stoppedGone), "STARTED");
  await env.client(ORG).stopSandbox({ sandboxId: stoppedGone, wait: false });
  await inv.succeed(await inv.nextCommand("stopSandbox", stoppedGone), "STOPPED");
  const fresh = await mk(); // its create is still in the outbox
  const destroying = await mk();
  const create = await inv.nextCommand("createSandbox", destroying);
  await inv.succeed(create, "STARTED");
  await env.client(ORG).deleteSandbox({ sandboxId: destroying });
  const present = await mk();
  await inv.succeed(await inv.nextCommand("createSandbox", present), "STARTED");
  const destroyed = await mk();
  await inv.succeed(await inv.nextCommand("createSandbox", destroyed), "STARTED");
  await env.client(ORG).deleteSandbox({ sandboxId: destroyed });
  await inv.succeed(await inv.nextCommand("destroySandbox", destroyed), "DESTROYED");
  await env.db("runners").where({ id: "runner-r" }).update({ draining: false });
  await env.db("runners").where({ id: "runner-inv" }).update({ draining: true });

  const report = (sandboxId: string, state: "STARTED" | "STOPPED") => ({
    sandboxId,
    state,
    errorReason: "",
    errorMessage: "",
    observeTime: new Date(),
  });
  const { orphans } = await env.manager.reconcileInventory("runner-inv", [
    report(present, "STARTED"),
    report("unknowncontainer0001", "STOPPED"),
    report(destroyed, "STOPPED"),
  ]);
  expect(orphans.sort()).toEqual(["unknowncontainer0001", destroyed].sort());
  expect(await stateOf(env.db, vanished)).toMatchObject({
    state: "ERROR",
    error_reason: "SANDBOX_EXITED",
    recoverable: true,
  });
  expect((await stateOf(env.db, vanished)).error_message).toContain("vanished");
  expect(await stateOf(env.db, stoppedGone)).toMatchObject({ state: "ERROR", recoverable: false });
  expect((await stateOf(env.db, fresh)).state).toBe("CREATING");
  expect((await stateOf(env.db, destroying)).state).toBe("DESTROYED");
  expect((await stateOf(env.db, present)).state).toBe("STARTED");
});

test("preview URLs, SSH access and sandbox tokens: stored hashed, verified, revoked", async () => {
  const client = env.client(ORG);
  const id = await started();
  const preview = await client.createPreviewUrl({ sandboxId: id, port: 3000 });
  expect(preview.url).toBe(`http://3000-${id}.preview.localhost:4000`);
  expect(preview.signedUrl).toBe(
    `http://3000-${id}.preview.localhost:4000/?cove_token=${preview.token}`,
  );
  const stored = await env
    .db("access_tokens")
    .where({ sandbox_id: id })
    .select("token_hash", "kind", "port");
  expect(stored).toHaveLength(1);
  expect(stored[0]?.token_hash).not.toContain(preview.token);
  const verified = await verifyAccessToken(env.db, "preview", preview.token, id);
  expect(verified).toMatchObject({
    kind: "preview",
    sandboxId: id,
    organizationId: ORG,
    port: 3000,
  });
  await expect(
    verifyAccessToken(env.db, "preview", preview.token, "someothersandbox0001"),
  ).rejects.toMatchObject({
    reason: "TOKEN_INVALID",
  });
  await expect(verifyAccessToken(env.db, "sandbox", preview.token)).rejects.toBeInstanceOf(
    CoveError,
  );
  await expect(
    verifyAccessToken(env.db, "preview", preview.token, id, {
      now: new Date(Date.now() + 2 * 3600_000),
    }),
  ).rejects.toMatchObject({ code: "unauthenticated", reason: "TOKEN_EXPIRED" });
  const badPort = await rejection(client.createPreviewUrl({ sandboxId: id, port: 70000 }));
  expect(badPort.code).toBe(Code.InvalidArgument);
  const badExpiry = await rejection(
    client.createPreviewUrl({ sandboxId: id, port: 80, expiry: { seconds: 30n, nanos: 0 } }),
  );
  expect(badExpiry.code).toBe(Code.InvalidArgument);

  const ssh = await client.createSshAccess({ sandboxId: id });
  expect(ssh.sshCommand).toBe(`ssh ${ssh.token}@localhost -p 2222`);
  expect((await verifyAccessToken(env.db, "ssh", ssh.token)).sandboxId).toBe(id);
  await client.revokeSshAccess({ sandboxId: id, token: ssh.token });
  await expect(verifyAccessToken(env.db, "ssh", ssh.token)).rejects.toMatchObject({
    reason: "TOKEN_INVALID",
  });
  const unknown = await rejection(client.revokeSshAccess({ sandboxId: id, token: "cvs_nope" }));
  expect(unknown).toMatchObject({ code: Code.NotFound, reason: "SSH_ACCESS_NOT_FOUND" });

  const token = await client.createSandboxToken({ sandboxId: id });
  expect(token.toolboxUrl).toBe("http://localhost:4000");
  const expire = Number(token.expireTime?.seconds) * 1000;
  expect(expire - Date.now()).toBeGreaterThan(14 * 60_000);
  expect(expire - Date.now()).toBeLessThanOrEqual(15 * 60_000);
  expect((await verifyAccessToken(env.db, ["sandbox", "preview"], token.token, id)).kind).toBe(
    "sandbox",
  );

  // Deleting the sandbox revokes its tokens and refuses new ones.
  await client.deleteSandbox({ sandboxId: id });
  await expect(verifyAccessToken(env.db, "sandbox", token.token, id)).rejects.toMatchObject({
    reason: "TOKEN_INVALID",
  });
  const late = await rejection(client.createSandboxToken({ sandboxId: id }));
  expect(late).toMatchObject({ code: Code.FailedPrecondition, reason: "SANDBOX_STATE_CONFLICT" });
});
