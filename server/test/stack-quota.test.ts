// Quotas under concurrency, end to end (real Postgres, Redis, runner and Docker): an
// organization limited to 10 sandboxes gets exactly 10 out of 50 parallel creates, the rest
// RESOURCE_EXHAUSTED (QUOTA_EXCEEDED); the 10 really start, and deleting them frees the quota
// and removes their containers.
import { Code, ConnectError } from "@connectrpc/connect";
import { OrganizationService } from "@cove/gen-ts/cove/iam/v1/organization_service_pb.js";
import { SandboxState } from "@cove/gen-ts/cove/sandbox/v1/sandbox_pb.js";
import { SandboxService } from "@cove/gen-ts/cove/sandbox/v1/sandbox_service_pb.js";
import { docker } from "../../daemon/test/docker-images.js";
import { STACK_LABEL, type Stack, startStack } from "../../test/stack.js";
import { issueApiKey } from "../src/domain/iam/api-keys.js";
import { ensureUser } from "../src/domain/iam/users.js";
import {
  apiClient,
  containersWithLabel,
  describeWithDocker,
  failureOf,
  waitUntil,
} from "./stack-helpers.js";

const QUOTA = 10;
const ATTEMPTS = 50;

describeWithDocker("quota: max_sandboxes under 50 parallel creates", () => {
  let stack: Stack;
  let orgQ = "";
  let keyQ = "";

  beforeAll(async () => {
    stack = await startStack({ name: "quota" });
    const orgs = apiClient(OrganizationService, stack.apiUrl, stack.adminKey);
    orgQ =
      (await orgs.createOrganization({ name: "quota-org" })).organization?.organizationId ?? "";
    const owner = await ensureUser(stack.database.db, "owner@quota.test", "quota owner");
    await stack.database
      .db("members")
      .insert({ organization_id: orgQ, user_id: owner.id, role: "OWNER" });
    keyQ = (
      await issueApiKey(stack.database.db, {
        organizationId: orgQ,
        userId: owner.id,
        name: "quota key",
        scopes: ["*"],
      })
    ).secret;
    // Operator-only: the admin key (scope "operator") sets another organization's quota.
    const updated = await orgs.updateQuota({
      organizationId: orgQ,
      quota: { maxSandboxes: QUOTA },
    });
    expect(updated.organization?.quota?.maxSandboxes).toBe(QUOTA);
  }, 900_000);
  afterAll(() => stack?.stop());

  test(`${ATTEMPTS} parallel creates → exactly ${QUOTA} succeed, the rest QUOTA_EXCEEDED; all ${QUOTA} start; delete frees everything`, async () => {
    const sandboxes = apiClient(SandboxService, stack.apiUrl, keyQ);
    const results = await Promise.allSettled(
      Array.from({ length: ATTEMPTS }, (_, i) =>
        sandboxes.createSandbox({ wait: false, labels: { attempt: String(i) } }),
      ),
    );
    const created = results.flatMap((r) =>
      r.status === "fulfilled" && r.value.sandbox ? [r.value.sandbox] : [],
    );
    const refusals = results.flatMap((r) => (r.status === "rejected" ? [failureOf(r.reason)] : []));
    expect(created).toHaveLength(QUOTA);
    expect(refusals).toHaveLength(ATTEMPTS - QUOTA);
    for (const refusal of refusals) {
      expect(refusal).toMatchObject({ code: "ResourceExhausted", reason: "QUOTA_EXCEEDED" });
      expect(refusal.message).toContain("max_sandboxes");
    }
    const ids = created.map((s) => s.sandboxId);
    expect(new Set(ids).size).toBe(QUOTA);

    // The database holds exactly those 10 for the organization; usage agrees.
    const rows = await stack.database
      .db("sandboxes")
      .where({ organization_id: orgQ })
      .select<Array<{ id: string }>>("id");
    expect(rows.map((r) => r.id).sort()).toEqual([...ids].sort());
    const usage = await apiClient(OrganizationService, stack.apiUrl, keyQ).getUsage({});
    expect(usage.usage?.sandboxes).toBe(QUOTA);

    // All ten reach STARTED, each with exactly one running container.
    await waitUntil(
      `${QUOTA} sandboxes STARTED`,
      async () => {
        const { sandboxes: listed } = await sandboxes.listSandboxes({});
        const states = listed.map((s) => s.state);
        if (states.some((s) => s === SandboxState.ERROR))
          throw new Error(`a sandbox failed: ${JSON.stringify(listed.map((s) => s.errorMessage))}`);
        return listed.length === QUOTA && states.every((s) => s === SandboxState.STARTED)
          ? true
          : undefined;
      },
      120_000,
      500,
    );
    const label = `quota-${process.pid}`;
    const running = containersWithLabel(STACK_LABEL, label);
    expect(running.map((c) => c.sandboxId).sort()).toEqual([...ids].sort());
    expect(running.every((c) => c.state === "running")).toBe(true);

    // One more is still refused while the ten exist.
    const more = await sandboxes.createSandbox({ wait: false }).catch((e) => ConnectError.from(e));
    expect(more instanceof ConnectError && more.code).toBe(Code.ResourceExhausted);

    // Delete them all (waiting), and the containers are gone.
    await Promise.all(ids.map((sandboxId) => sandboxes.deleteSandbox({ sandboxId, wait: true })));
    for (const sandboxId of ids) {
      const got = await sandboxes.getSandbox({ sandboxId }).catch((e) => ConnectError.from(e));
      if (got instanceof ConnectError) expect(got.code).toBe(Code.NotFound);
      else expect(got.sandbox?.state).toBe(SandboxState.DESTROYED);
    }
    expect(containersWithLabel(STACK_LABEL, label)).toEqual([]);
    for (const sandboxId of ids)
      expect(docker(["ps", "-aq", "--filter", `name=^${sandboxId}$`]).trim()).toBe("");

    // The quota is free again: a new sandbox starts.
    const again = await sandboxes.createSandbox({});
    expect(again.sandbox?.state).toBe(SandboxState.STARTED);
    await sandboxes.deleteSandbox({ sandboxId: again.sandbox?.sandboxId ?? "", wait: true });
    expect(
      (await apiClient(OrganizationService, stack.apiUrl, keyQ).getUsage({})).usage?.sandboxes,
    ).toBe(0);
  }, 180_000);
});
