// Network policies through SandboxService with a played runner: the new modes are validated
// and stored, CreateSandbox hands them to the runner, and UpdateSandbox delivers a change to
// the runner (waiting for a STARTED sandbox's runner to enforce it, putting the old policy back
// when the runner refuses) without disturbing the sandbox's lifecycle commands.
import { Code } from "@connectrpc/connect";
import { NetworkPolicyMode } from "@cove/gen-ts/cove/sandbox/v1/sandbox_pb.js";
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
const ORG = "org_net";

beforeAll(async () => {
  env = await startSandboxEnv();
  await addOrganization(env.db, ORG, {
    max_sandboxes: 100,
    max_cpu_millicores: 1_000_000,
    max_memory_mib: 1_000_000,
    max_disk_mib: 10_000_000,
  });
  await addRunner(env.db, "runner-net");
  runner = new FakeRunner(env, "runner-net");
});
afterAll(() => env.close());
// The played runner stays alive for the scheduler.
beforeEach(() =>
  env.db("runners").where({ id: "runner-net" }).update({ last_heartbeat_time: new Date() }),
);

const domains = {
  mode: NetworkPolicyMode.ALLOW_DOMAINS,
  allowDomains: ["pypi.org", "*.pythonhosted.org"],
};

async function started(networkPolicy = {}): Promise<string> {
  const res = await env.client(ORG).createSandbox({ wait: false, networkPolicy });
  const id = res.sandbox?.sandboxId ?? "";
  await runner.succeed(await runner.nextCommand("createSandbox", id), "STARTED");
  return id;
}

test("ALLOW_DOMAINS and ALLOW_PUBLIC are stored, returned and sent to the runner", async () => {
  const client = env.client(ORG);
  const res = await client.createSandbox({
    wait: false,
    networkPolicy: { ...domains, allowCidrs: ["203.0.113.0/24"], allowDomains: ["PyPI.org"] },
  });
  const id = res.sandbox?.sandboxId ?? "";
  expect(res.sandbox?.networkPolicy).toMatchObject({
    mode: NetworkPolicyMode.ALLOW_DOMAINS,
    allowDomains: ["pypi.org"],
    allowCidrs: ["203.0.113.0/24"],
  });
  const create = await runner.nextCommand("createSandbox", id);
  expect(create.command.command.case).toBe("createSandbox");
  const spec =
    create.command.command.case === "createSandbox" ? create.command.command.value.spec : undefined;
  expect(spec?.networkPolicy).toMatchObject({
    mode: NetworkPolicyMode.ALLOW_DOMAINS,
    allowDomains: ["pypi.org"],
  });

  const pub = await client.createSandbox({
    wait: false,
    networkPolicy: { mode: NetworkPolicyMode.ALLOW_PUBLIC },
  });
  expect(pub.sandbox?.networkPolicy?.mode).toBe(NetworkPolicyMode.ALLOW_PUBLIC);
});

test("bad domain lists are INVALID_ARGUMENT naming the field", async () => {
  const client = env.client(ORG);
  const cases: Array<[object, string]> = [
    [{ mode: NetworkPolicyMode.ALLOW_DOMAINS }, "network_policy.allow_domains"],
    [
      { mode: NetworkPolicyMode.ALLOW_DOMAINS, allowDomains: ["10.0.0.1"] },
      "network_policy.allow_domains[0]",
    ],
    [
      { mode: NetworkPolicyMode.ALLOW_DOMAINS, allowDomains: ["ok.org", "bad name.org"] },
      "network_policy.allow_domains[1]",
    ],
    [
      { mode: NetworkPolicyMode.ALLOW_DOMAINS, allowDomains: ["*"] },
      "network_policy.allow_domains[0]",
    ],
    [
      {
        mode: NetworkPolicyMode.ALLOW_DOMAINS,
        allowDomains: Array.from({ length: 65 }, (_, i) => `h${i}.org`),
      },
      "network_policy.allow_domains",
    ],
    [
      {
        mode: NetworkPolicyMode.ALLOW_LIST,
        allowCidrs: ["1.1.1.1/32"],
        allowDomains: ["pypi.org"],
      },
      "network_policy.allow_domains",
    ],
    [
      { mode: NetworkPolicyMode.ALLOW_PUBLIC, allowCidrs: ["1.1.1.1/32"] },
      "network_policy.allow_cidrs",
    ],
  ];
  for (const [networkPolicy, field] of cases) {
    const err = await rejection(client.createSandbox({ wait: false, networkPolicy }));
    expect(err).toMatchObject({ code: Code.InvalidArgument, reason: "INVALID_FIELD" });
    expect(err.message).toContain(field);
  }
  const id = await started();
  const bad = await rejection(
    client.updateSandbox({
      sandboxId: id,
      updateMask: { paths: ["network_policy"] },
      networkPolicy: cases[1]?.[0],
    }),
  );
  expect(bad.code).toBe(Code.InvalidArgument);
});

test("UpdateSandbox of a STARTED sandbox returns once its runner enforces the new policy", async () => {
  const client = env.client(ORG);
  const id = await started();
  let settled = false;
  const update = client
    .updateSandbox({
      sandboxId: id,
      updateMask: { paths: ["network_policy"] },
      networkPolicy: domains,
    })
    .finally(() => {
      settled = true;
    });
  const command = await runner.nextCommand("updateSandboxNetwork", id);
  expect(command.command.command.case).toBe("updateSandboxNetwork");
  if (command.command.command.case === "updateSandboxNetwork") {
    expect(command.command.command.value).toMatchObject({
      sandboxId: id,
      networkPolicy: { mode: NetworkPolicyMode.ALLOW_DOMAINS, allowDomains: domains.allowDomains },
    });
  }
  await new Promise((r) => setTimeout(r, 300));
  expect(settled).toBe(false);
  await runner.succeed(command, "STARTED");
  const res = await update;
  expect(res.sandbox?.networkPolicy?.mode).toBe(NetworkPolicyMode.ALLOW_DOMAINS);
  expect((await stateOf(env.db, id)).state).toBe("STARTED");
});

test("a runner that refuses the policy: FAILED_PRECONDITION and the previous policy stays", async () => {
  const client = env.client(ORG);
  const id = await started({ mode: NetworkPolicyMode.ALLOW_PUBLIC });
  const update = rejection(
    client.updateSandbox({
      sandboxId: id,
      updateMask: { paths: ["network_policy"] },
      networkPolicy: { mode: NetworkPolicyMode.ALLOW_LIST, allowCidrs: ["203.0.113.0/24"] },
    }),
  );
  await runner.fail(
    await runner.nextCommand("updateSandboxNetwork", id),
    "RUNTIME_UNAVAILABLE",
    "no nft here",
  );
  const err = await update;
  expect(err).toMatchObject({ code: Code.FailedPrecondition, reason: "RUNTIME_UNAVAILABLE" });
  expect(err.message).toMatch(/previous one stays: no nft here/);
  const now = await client.getSandbox({ sandboxId: id });
  expect(now.sandbox?.networkPolicy?.mode).toBe(NetworkPolicyMode.ALLOW_PUBLIC);
  expect((await stateOf(env.db, id)).state).toBe("STARTED");
});

test("a stop does not cancel a pending update; a STOPPED sandbox's update returns at once", async () => {
  const client = env.client(ORG);
  const id = await started();
  const update = client.updateSandbox({
    sandboxId: id,
    updateMask: { paths: ["network_policy"] },
    networkPolicy: domains,
  });
  await runner.nextCommand("updateSandboxNetwork", id);
  // The stop comes while the update is still pending: both reach the runner.
  await client.stopSandbox({ sandboxId: id, wait: false });
  const pending = await runner.commands(id);
  expect(pending.filter((c) => c.kind === "updateSandboxNetwork").map((c) => c.state)).toEqual([
    "PENDING",
  ]);
  await runner.succeed(await runner.nextCommand("updateSandboxNetwork", id), "STARTED");
  expect((await update).sandbox?.networkPolicy?.mode).toBe(NetworkPolicyMode.ALLOW_DOMAINS);
  await runner.succeed(await runner.nextCommand("stopSandbox", id), "STOPPED");
  expect((await stateOf(env.db, id)).state).toBe("STOPPED");

  const res = await client.updateSandbox({
    sandboxId: id,
    updateMask: { paths: ["network_policy"] },
    networkPolicy: { mode: NetworkPolicyMode.BLOCK_ALL },
  });
  expect(res.sandbox?.networkPolicy?.mode).toBe(NetworkPolicyMode.BLOCK_ALL);
  const updates = (await runner.commands(id)).filter((c) => c.kind === "updateSandboxNetwork");
  expect(updates.map((c) => c.state)).toEqual(["DONE", "PENDING"]);
});

test("an update while the create is in flight does not void the create's result", async () => {
  const client = env.client(ORG);
  const res = await client.createSandbox({ wait: false });
  const id = res.sandbox?.sandboxId ?? "";
  const create = await runner.nextCommand("createSandbox", id);
  await client.updateSandbox({
    sandboxId: id,
    networkPolicy: { mode: NetworkPolicyMode.ALLOW_PUBLIC },
  });
  await runner.succeed(create, "STARTED");
  expect((await stateOf(env.db, id)).state).toBe("STARTED");
  const update = await runner.nextCommand("updateSandboxNetwork", id);
  if (update.command.command.case === "updateSandboxNetwork") {
    expect(update.command.command.value.networkPolicy?.mode).toBe(NetworkPolicyMode.ALLOW_PUBLIC);
  }
});
