// IAM through the SDK against a real stack: an admin adds a member by email (the user is created
// and handed a first key that works at once), keys are created and revoked, usage and the audit
// log are read, and a removed member's key stops working.
import {
  Cove,
  CoveAlreadyExistsError,
  CoveAuthenticationError,
  CovePermissionError,
  CoveValidationError,
} from "../src/index.js";
import { describeWithDocker, type SdkHarness, startHarness } from "./harness.js";

describeWithDocker("IAM through the SDK", () => {
  let h: SdkHarness;
  const clients: Cove[] = [];
  const as = (apiKey: string) => {
    const c = new Cove({ apiKey, apiUrl: h.stack.apiUrl, proxyUrl: h.stack.proxyUrl });
    clients.push(c);
    return c;
  };
  beforeAll(async () => {
    h = await startHarness("sdk-iam");
  }, 900_000);
  afterAll(async () => {
    for (const c of clients) c.close();
    h?.cove.close();
    await h?.stack.stop();
  });

  test("organizations: own organization, create, rename, list, delete", async () => {
    const own = await h.cove.organizations.get();
    expect(own.role).toBe("owner");
    expect(own.quota.maxSandboxes).toBeGreaterThan(0);
    const team = await h.cove.organizations.create("Team SDK");
    expect(team.name).toBe("Team SDK");
    // The admin key is bound to its own organization, but its user owns the new one.
    const key = await h.cove.apiKeys.create({
      name: "team key",
      scopes: ["*"],
      organizationId: team.id,
    });
    const teamClient = as(key.secret);
    expect(await teamClient.organizations.get()).toMatchObject({ id: team.id, role: "owner" });
    expect((await teamClient.organizations.update(team.id, { name: "Team Two" })).name).toBe(
      "Team Two",
    );
    expect((await teamClient.organizations.list()).map((o) => o.id)).toEqual([team.id]);
    await teamClient.organizations.delete(team.id);
    await expect(teamClient.organizations.get()).rejects.toBeInstanceOf(CoveAuthenticationError);
  }, 60_000);

  test("createMember: a new user with a first key that works at once; roles bound it", async () => {
    const email = `ada-${process.pid}@example.test`;
    const made = await h.cove.organizations.createMember(undefined, {
      email,
      role: "member",
      displayName: "Ada",
      apiKeyScopes: ["sandboxes:read", "organization:read", "api_keys:read", "api_keys:write"],
    });
    expect(made.userCreated).toBe(true);
    expect(made.member).toMatchObject({ email, displayName: "Ada", role: "member" });
    expect(made.apiKey?.state).toBe("active");
    expect(made.secret).toMatch(/^cove_sk_/);

    const ada = as(made.secret);
    expect((await ada.organizations.get()).role).toBe("member");
    expect(Array.isArray(await ada.list())).toBe(true);
    expect((await ada.apiKeys.list()).map((k) => k.id)).toEqual([made.apiKey?.id]);
    await expect(ada.audit.list()).rejects.toBeInstanceOf(CovePermissionError);
    await expect(ada.create()).rejects.toBeInstanceOf(CovePermissionError);

    const members = await h.cove.organizations.listMembers();
    expect(members.find((m) => m.email === email)?.userId).toBe(made.member.userId);
    await expect(
      h.cove.organizations.createMember(undefined, { email, role: "viewer" }),
    ).rejects.toBeInstanceOf(CoveAlreadyExistsError);
    await expect(
      h.cove.organizations.createMember(undefined, { email: "not an email", role: "viewer" }),
    ).rejects.toBeInstanceOf(CoveValidationError);
    await expect(
      h.cove.organizations.createMember(undefined, {
        email: `v-${process.pid}@example.test`,
        role: "viewer",
        apiKeyScopes: ["sandboxes:write"],
      }),
    ).rejects.toBeInstanceOf(CovePermissionError);

    // The admin can see the change in the audit log.
    const events = await h.cove.audit.list({
      method: "cove.iam.v1.OrganizationService/CreateMember",
      limit: 10,
    });
    expect(events.map((e) => [e.resourceId, e.code])).toContainEqual([made.member.userId, "OK"]);

    // Demoted to viewer: the same key can no longer create keys.
    expect(
      (await h.cove.organizations.updateMember(undefined, made.member.userId, "viewer")).role,
    ).toBe("viewer");
    await expect(
      ada.apiKeys.create({ name: "x", scopes: ["sandboxes:read"] }),
    ).rejects.toBeInstanceOf(CovePermissionError);
    // Removed: the key stops working.
    await h.cove.organizations.removeMember(undefined, made.member.userId);
    await expect(ada.organizations.get()).rejects.toBeInstanceOf(CoveAuthenticationError);
  }, 60_000);

  test("apiKeys: create, get, list, revoke; usage counts keys", async () => {
    const before = (await h.cove.organizations.getUsage()).usage.apiKeys;
    const { apiKey, secret } = await h.cove.apiKeys.create({
      name: "ci",
      scopes: ["sandboxes:read"],
      expiresAt: new Date(Date.now() + 3_600_000),
    });
    expect(apiKey).toMatchObject({ name: "ci", scopes: ["sandboxes:read"], state: "active" });
    expect(apiKey.expiresAt?.getTime()).toBeGreaterThan(Date.now());
    expect(secret.startsWith(apiKey.prefix)).toBe(true);
    expect((await h.cove.organizations.getUsage()).usage.apiKeys).toBe(before + 1);
    expect((await h.cove.apiKeys.get(apiKey.id)).name).toBe("ci");
    expect((await h.cove.apiKeys.list()).map((k) => k.id)).toContain(apiKey.id);

    const ci = as(secret);
    await ci.list();
    expect((await h.cove.apiKeys.revoke(apiKey.id)).state).toBe("revoked");
    const err = await ci.list().catch((e) => e);
    expect(err).toBeInstanceOf(CoveAuthenticationError);
    expect(err.reason).toBe("API_KEY_REVOKED");
    expect((await h.cove.apiKeys.list({ states: ["revoked"] })).map((k) => k.id)).toContain(
      apiKey.id,
    );
    expect((await h.cove.organizations.getUsage()).usage.apiKeys).toBe(before);
  }, 60_000);
});
