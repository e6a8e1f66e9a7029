// The `cove` CLI against a whole stack (API server, runner, Docker, proxy, SSH gateway): login,
// the sandbox lifecycle, exec through the proxy (streams, exit codes, stdin, signals), ssh
// through the gateway, and the errors users see.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import { dockerUnreachableReason } from "../../../daemon/test/docker-images.js";
import { type Stack, startStack } from "../../../test/stack.js";
import { makeScratch, runCli, type Scratch, spawnCli } from "./cli-harness.js";

const unreachable = dockerUnreachableReason();
const describeWithDocker =
  unreachable !== undefined && process.env.COVE_REQUIRE_DOCKER !== "1" ? describe.skip : describe;

/** OpenSSH options for tests: no host key bookkeeping, no prompts, quiet. */
const SSH_TEST_OPTIONS = [
  "-o",
  "UserKnownHostsFile=/dev/null",
  "-o",
  "StrictHostKeyChecking=no",
  "-o",
  "BatchMode=yes",
  "-o",
  "LogLevel=ERROR",
];

describeWithDocker("the cove CLI against a real stack", () => {
  let stack: Stack;
  let scratch: Scratch;
  /** The environment with the stack's URLs and key, as a user would export them. */
  let env: NodeJS.ProcessEnv;
  let sandboxId = "";

  beforeAll(async () => {
    stack = await startStack({ name: "cli" });
    scratch = makeScratch();
    env = {
      ...scratch.env,
      COVE_API_URL: stack.apiUrl,
      COVE_API_KEY: stack.adminKey,
      COVE_PROXY_URL: stack.proxyUrl,
      COVE_SSH_PORT: String(stack.sshPort),
      COVE_SSH_HOST: "127.0.0.1",
    };
  }, 900_000);
  afterAll(async () => {
    scratch?.remove();
    await stack?.stop();
  });

  const cove = (args: string[], options: { input?: string; env?: NodeJS.ProcessEnv } = {}) =>
    runCli(args, { env: options.env ?? env, input: options.input, timeoutMs: 120_000 });

  test("login checks the key with the server, stores it, and later commands use it", async () => {
    const login = await runCli(
      ["login", "--api-url", stack.apiUrl, "--api-key", "-", "--proxy-url", stack.proxyUrl],
      { env: scratch.env, input: stack.adminKey },
    );
    expect(login.stderr).toContain(`Logged in to ${stack.apiUrl}`);
    expect(login.code).toBe(0);
    expect(fs.statSync(scratch.configFile).mode & 0o777).toBe(0o600);
    // No COVE_* variables: the stored settings alone reach the server.
    const list = await runCli(["sandbox", "list", "--json"], { env: scratch.env });
    expect(list.code).toBe(0);
    expect(Array.isArray(JSON.parse(list.stdout))).toBe(true);
  }, 60_000);

  test("a refused API key is explained with a hint (exit 1)", async () => {
    const result = await cove(["sandbox", "list"], {
      env: { ...env, COVE_API_KEY: "cove_sk_not_a_real_key" },
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      "cove: the API key was refused [UNAUTHENTICATED, API_KEY_INVALID]",
    );
    expect(result.stderr).toMatch(/^hint: .*cove login/m);
  }, 60_000);

  test("create prints the id, with progress on stderr; list, get show it", async () => {
    const created = await cove(["sandbox", "create", "--label", "suite=cli", "--memory", "512"]);
    expect(created.stderr).toMatch(/sandbox \w+: started/);
    expect(created.code).toBe(0);
    sandboxId = created.stdout.trim();
    expect(sandboxId).toMatch(/^[a-z0-9]{20}$/);

    const list = await cove(["sandbox", "list", "--label", "suite=cli", "--json"]);
    expect(list.code).toBe(0);
    const listed = JSON.parse(list.stdout) as { sandboxId: string; state: string }[];
    expect(listed.map((s) => s.sandboxId)).toEqual([sandboxId]);
    expect(listed[0]?.state).toBe("SANDBOX_STATE_STARTED");

    const table = await cove(["sandbox", "list"]);
    expect(table.stdout).toMatch(/^ID\s+STATE\s+IMAGE/);
    expect(table.stdout).toMatch(new RegExp(`^${sandboxId}\\s+started\\s`, "m"));

    const got = await cove(["sandbox", "get", sandboxId, "--json"]);
    expect(got.code).toBe(0);
    const sandbox = JSON.parse(got.stdout);
    expect(sandbox).toMatchObject({
      sandboxId,
      state: "SANDBOX_STATE_STARTED",
      labels: { suite: "cli" },
      resources: { memoryMib: 512 },
    });
    const human = await cove(["sandbox", "get", sandboxId]);
    expect(human.stdout).toMatch(/^state\s+started$/m);
  }, 180_000);

  test("exec prints stdout and stderr on the right streams and exits with the remote code", async () => {
    const result = await cove([
      "sandbox",
      "exec",
      sandboxId,
      "--",
      "sh",
      "-c",
      "echo out; echo err >&2; exit 3",
    ]);
    expect(result.stdout).toBe("out\n");
    expect(result.stderr).toBe("err\n");
    expect(result.code).toBe(3);
  }, 60_000);

  test("exec streams: the first line arrives before the command ends", async () => {
    const child = spawnCli(
      ["sandbox", "exec", sandboxId, "--", "sh", "-c", "echo first; sleep 3; echo second"],
      { env },
    );
    child.stdin?.end();
    let output = "";
    let firstAt = 0;
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString("utf8");
      if (firstAt === 0 && output.includes("first\n")) firstAt = Date.now();
    });
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    const endedAt = Date.now();
    expect(code).toBe(0);
    expect(output).toBe("first\nsecond\n");
    expect(firstAt).toBeGreaterThan(0);
    expect(endedAt - firstAt).toBeGreaterThan(2_000);
  }, 60_000);

  test("exec --stdin forwards the CLI's stdin; without it stdin is closed", async () => {
    const piped = await cove(["sandbox", "exec", "--stdin", sandboxId, "--", "wc", "-c"], {
      input: "x".repeat(100_000),
    });
    expect(piped.code).toBe(0);
    expect(piped.stdout.trim()).toBe("100000");
    const closed = await cove(["sandbox", "exec", sandboxId, "--", "cat"], { input: "ignored" });
    expect(closed.code).toBe(0);
    expect(closed.stdout).toBe("");
  }, 60_000);

  test("exec takes the command after the ID without --, like docker exec", async () => {
    const result = await cove(["sandbox", "exec", sandboxId, "ls", "-d", "/tmp"]);
    expect(result.stdout).toBe("/tmp\n");
    expect(result.code).toBe(0);
  }, 60_000);

  test("Ctrl-C on exec is sent to the remote command (SendSignal), which ends with 130", async () => {
    const child = spawnCli(
      ["sandbox", "exec", sandboxId, "--", "sh", "-c", "echo ready; exec sleep 60"],
      { env },
    );
    child.stdin?.end();
    let output = "";
    await new Promise<void>((resolve) => {
      child.stdout?.on("data", (chunk: Buffer) => {
        output += chunk.toString("utf8");
        if (output.includes("ready")) resolve();
      });
    });
    const started = Date.now();
    child.kill("SIGINT");
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(code).toBe(130);
    expect(Date.now() - started).toBeLessThan(20_000);
  }, 60_000);

  test("a command that is not there is reported (exit 1)", async () => {
    const result = await cove(["sandbox", "exec", sandboxId, "--", "/no/such/program"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^cove: .*\[NOT_FOUND, FILE_NOT_FOUND\]$/m);
  }, 60_000);

  test("ssh runs a remote command through the SSH gateway and exits with its code", async () => {
    const result = await cove([
      "sandbox",
      "ssh",
      sandboxId,
      ...SSH_TEST_OPTIONS,
      "--",
      "echo hi from $(whoami); exit 7",
    ]);
    expect(result.stdout).toBe("hi from cove\n");
    expect(result.code).toBe(7);
  }, 60_000);

  test("ssh --print prints a command that works on its own", async () => {
    const printed = await cove(["sandbox", "ssh", sandboxId, "--print", ...SSH_TEST_OPTIONS]);
    expect(printed.code).toBe(0);
    const line = printed.stdout.trim();
    expect(line).toMatch(new RegExp(`^ssh -p ${stack.sshPort} .* -- cvs_\\w+@127\\.0\\.0\\.1$`));
    const run = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      const child = spawn("sh", ["-c", `${line} 'echo printed; exit 4'`], {
        env: scratch.env,
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      child.stdout.on("data", (c: Buffer) => {
        stdout += c.toString("utf8");
      });
      child.on("close", (code) => resolve({ code, stdout }));
    });
    expect(run.stdout).toBe("printed\n");
    expect(run.code).toBe(4);
  }, 60_000);

  test("stop, start and delete report the new state", async () => {
    const stopped = await cove(["sandbox", "stop", sandboxId]);
    expect(stopped.code).toBe(0);
    expect(stopped.stdout).toBe(`${sandboxId} stopped\n`);

    const started = await cove(["sandbox", "start", sandboxId, "--json"]);
    expect(started.code).toBe(0);
    expect(JSON.parse(started.stdout).state).toBe("SANDBOX_STATE_STARTED");
    const again = await cove(["sandbox", "exec", sandboxId, "--", "echo", "again"]);
    expect(again.stdout).toBe("again\n");

    const deleted = await cove(["sandbox", "delete", sandboxId]);
    expect(deleted.code).toBe(0);
    expect(deleted.stdout).toBe(`${sandboxId} destroyed\n`);
    const list = await cove(["sandbox", "list", "--label", "suite=cli", "--json"]);
    expect(JSON.parse(list.stdout)).toEqual([]);
  }, 180_000);

  test("an unknown sandbox is NOT_FOUND with a hint (exit 1)", async () => {
    const result = await cove(["sandbox", "get", "nosuchsandbox0000000"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^cove: .*\[NOT_FOUND, SANDBOX_NOT_FOUND\]$/m);
    expect(result.stderr).toContain("hint: `cove sandbox list` shows your sandboxes");
  }, 60_000);

  test("org, key and audit: add a member with a first key, create and revoke keys, read the log", async () => {
    const email = `cli-${process.pid}@example.test`;
    const added = await cove([
      "org",
      "member",
      "add",
      email,
      "--role",
      "member",
      "--name",
      "CLI Member",
      "--key-scope",
      "sandboxes:read",
      "--key-scope",
      "organization:read",
      "--json",
    ]);
    expect(added.code).toBe(0);
    const made = JSON.parse(added.stdout);
    expect(made).toMatchObject({
      userCreated: true,
      member: { email, displayName: "CLI Member", role: "ROLE_MEMBER" },
    });
    expect(made.secret).toMatch(/^cove_sk_/);
    const asMember = { ...env, COVE_API_KEY: made.secret };
    const own = await cove(["org", "get", "--json"], { env: asMember });
    expect(JSON.parse(own.stdout).role).toBe("MEMBER");
    expect((await cove(["sandbox", "list"], { env: asMember })).code).toBe(0);
    const denied = await cove(["audit"], { env: asMember });
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain("PERMISSION_DENIED");
    const members = await cove(["org", "member", "list"]);
    expect(members.stdout).toMatch(new RegExp(`${made.member.userId}\\s+${email}\\s+member`));
    const again = await cove(["org", "member", "add", email, "--role", "viewer"]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("MEMBER_ALREADY_EXISTS");

    // key create prints the secret alone on stdout.
    const created = await cove(["key", "create", "cli-ci", "--scope", "sandboxes:read"]);
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/^cove_sk_[A-Za-z0-9_-]{43}\n$/);
    expect(created.stderr).toContain("shown only now");
    const secret = created.stdout.trim();
    const keys = JSON.parse((await cove(["key", "list", "--json"])).stdout) as {
      apiKeyId: string;
      name: string;
      keyPrefix: string;
    }[];
    const key = keys.find((k) => k.name === "cli-ci");
    expect(secret.startsWith(key?.keyPrefix ?? "?")).toBe(true);
    expect((await cove(["sandbox", "list"], { env: { ...env, COVE_API_KEY: secret } })).code).toBe(
      0,
    );
    expect((await cove(["key", "revoke", key?.apiKeyId ?? ""])).stdout).toContain("revoked");
    const revoked = await cove(["sandbox", "list"], { env: { ...env, COVE_API_KEY: secret } });
    expect(revoked.code).toBe(1);
    expect(revoked.stderr).toContain("API_KEY_REVOKED");

    const log = await cove([
      "audit",
      "--since",
      "10m",
      "--method",
      "cove.iam.v1.OrganizationService/CreateMember",
      "--json",
    ]);
    expect(JSON.parse(log.stdout).map((e: { resourceId: string }) => e.resourceId)).toContain(
      made.member.userId,
    );
    const usage = JSON.parse((await cove(["org", "usage", "--json"])).stdout);
    expect(usage.quota.maxSandboxes).toBeGreaterThan(0);

    expect((await cove(["org", "member", "remove", made.member.userId])).code).toBe(0);
    const gone = await cove(["org", "get"], { env: asMember });
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain("API_KEY_REVOKED");
  }, 120_000);

  test.each([
    [["snapshot", "list"], "cove.snapshot.v1.SnapshotService.ListSnapshots"],
    [["snapshot", "get", "x"], "cove.snapshot.v1.SnapshotService.GetSnapshot"],
    [
      ["snapshot", "create", "s1", "--image", "alpine"],
      "cove.snapshot.v1.SnapshotService.CreateSnapshot",
    ],
    [["snapshot", "delete", "x"], "cove.snapshot.v1.SnapshotService.DeleteSnapshot"],
    [["volume", "list"], "cove.volume.v1.VolumeService.ListVolumes"],
    [["volume", "create", "v1"], "cove.volume.v1.VolumeService.CreateVolume"],
    [["volume", "delete", "x"], "cove.volume.v1.VolumeService.DeleteVolume"],
  ])(
    "cove %j says the server does not implement it (exit 1)",
    async (args, method) => {
      const result = await cove(args as string[]);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe("");
      expect(result.stderr).toContain(
        `cove: ${method} is not implemented by this server (the Cove API at ${stack.apiUrl}) [UNIMPLEMENTED]`,
      );
    },
    60_000,
  );
});
