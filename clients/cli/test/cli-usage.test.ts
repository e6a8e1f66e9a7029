// The `cove` CLI without a server: usage errors (exit 2), help, login and the config file,
// settings precedence (environment over config), `cove up` and the completion scripts.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { makeScratch, runCli, type Scratch } from "./cli-harness.js";

let scratch: Scratch;
beforeEach(() => {
  scratch = makeScratch();
});
afterEach(() => scratch.remove());

/** A loopback URL where nothing listens: port 1 is reserved and never bound here. */
const DEAD_API = "http://127.0.0.1:1";

describe("usage errors exit 2 and say what is wrong", () => {
  test.each([
    [[], /Usage: cove <command>/],
    [["bogus"], /unknown command `cove bogus`/],
    [["sandbox", "bogus"], /unknown command `cove sandbox bogus`/],
    [["sandbox", "list", "--bogus"], /unknown flag --bogus for `cove sandbox list`/],
    [["sandbox", "get"], /`cove sandbox get` needs ID/],
    [["sandbox", "get", "a", "b"], /unexpected argument `b`/],
    [["sandbox", "exec", "abc"], /`cove sandbox exec` needs COMMAND…/],
    [["sandbox", "create", "--cpu", "lots"], /--cpu must be a whole number/],
    [["sandbox", "create", "--label", "novalue"], /--label takes KEY=VALUE/],
    [["sandbox", "create", "--image"], /--image needs a value \(IMAGE\)/],
    [["sandbox", "list", "--json=yes"], /--json takes no value/],
    [["login"], /needs --api-key/],
    [["completion", "fish"], /takes bash or zsh/],
  ])("cove %j", async (args, message) => {
    const result = await runCli(args as string[], { env: scratch.env });
    expect(result.stderr).toMatch(message);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
  });

  test("a usage error points at the command's --help", async () => {
    const result = await runCli(["sandbox", "create", "--cpu", "x"], { env: scratch.env });
    expect(result.stderr).toContain("Run `cove sandbox create --help` for usage.");
  });

  test.each([
    [["key", "create", "ci"], "--scope"],
    [["key", "list", "--state", "lost"], "active, expired or revoked"],
    [["org", "member", "add", "a@example.com"], "owner, admin, member or viewer"],
    [["org", "member", "add", "a@example.com", "--role", "boss"], '"boss"'],
    [["org", "member", "set-role", "usr_x", "root"], '"root"'],
    [["audit", "--since", "yesterday"], "15m, 2h or 7d"],
  ])("cove %j is a usage error before anything is sent (exit 2)", async (args, says) => {
    // No API key is configured: a usage error must come first.
    const result = await runCli(args, { env: scratch.env });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(says);
    expect(result.stdout).toBe("");
  });
});

describe("help", () => {
  test("--help prints the command's flags on stdout and exits 0", async () => {
    const result = await runCli(["sandbox", "create", "--help"], { env: scratch.env });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("Usage: cove sandbox create [flags]");
    for (const flag of [
      "--image",
      "--cpu",
      "--memory",
      "--label",
      "--env",
      "--public",
      "--no-wait",
      "--json",
    ]) {
      expect(result.stdout).toContain(flag);
    }
  });

  test("help for a group lists its subcommands", async () => {
    const result = await runCli(["sandbox", "--help"], { env: scratch.env });
    expect(result.code).toBe(0);
    for (const sub of ["create", "list", "get", "start", "stop", "delete", "exec", "ssh"]) {
      expect(result.stdout).toMatch(new RegExp(`^  ${sub} `, "m"));
    }
    const org = await runCli(["org", "--help"], { env: scratch.env });
    for (const sub of ["get", "list", "create", "rename", "delete", "usage", "member"]) {
      expect(org.stdout).toMatch(new RegExp(`^  ${sub} `, "m"));
    }
    const key = await runCli(["key", "--help"], { env: scratch.env });
    for (const sub of ["create", "list", "get", "revoke"]) {
      expect(key.stdout).toMatch(new RegExp(`^  ${sub} `, "m"));
    }
  });
});

describe("settings", () => {
  test("login --no-verify writes the config file 0600 under XDG_CONFIG_HOME", async () => {
    const result = await runCli(
      [
        "login",
        "--api-url",
        `${DEAD_API}/`,
        "--api-key",
        "cove_sk_test",
        "--proxy-url",
        "http://127.0.0.1:2",
        "--no-verify",
      ],
      { env: scratch.env },
    );
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(scratch.configFile);
    expect(fs.statSync(scratch.configFile).mode & 0o777).toBe(0o600);
    expect(JSON.parse(fs.readFileSync(scratch.configFile, "utf8"))).toEqual({
      apiUrl: DEAD_API,
      apiKey: "cove_sk_test",
      proxyUrl: "http://127.0.0.1:2",
    });
  });

  test("--api-key - reads the key from stdin", async () => {
    const result = await runCli(["login", "--api-key", "-", "--no-verify"], {
      env: scratch.env,
      input: "cove_sk_from_stdin\n",
    });
    expect(result.code).toBe(0);
    expect(JSON.parse(fs.readFileSync(scratch.configFile, "utf8")).apiKey).toBe(
      "cove_sk_from_stdin",
    );
  });

  test("later commands use the stored URL and key; COVE_API_URL overrides the file", async () => {
    await runCli(["login", "--api-url", DEAD_API, "--api-key", "cove_sk_test", "--no-verify"], {
      env: scratch.env,
    });
    const stored = await runCli(["sandbox", "list"], { env: scratch.env });
    expect(stored.code).toBe(1);
    expect(stored.stderr).toContain(`cannot reach the Cove API at ${DEAD_API}`);
    expect(stored.stderr).toMatch(/hint: .*cove up/);

    const overridden = await runCli(["sandbox", "list"], {
      env: { ...scratch.env, COVE_API_URL: "http://127.0.0.1:9" },
    });
    expect(overridden.code).toBe(1);
    expect(overridden.stderr).toContain("cannot reach the Cove API at http://127.0.0.1:9");
  });

  test("login checks the key with the server and stores nothing when it cannot", async () => {
    const result = await runCli(["login", "--api-url", DEAD_API, "--api-key", "cove_sk_test"], {
      env: scratch.env,
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("cannot reach the Cove API");
    expect(fs.existsSync(scratch.configFile)).toBe(false);
  });

  test("without an API key, commands that need one say how to get one (exit 1)", async () => {
    const result = await runCli(["sandbox", "list"], { env: scratch.env });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("cove: no API key is configured");
    expect(result.stderr).toContain("hint: run `cove login");
  });

  test("logout forgets the key and keeps the URLs", async () => {
    await runCli(["login", "--api-url", DEAD_API, "--api-key", "cove_sk_test", "--no-verify"], {
      env: scratch.env,
    });
    expect((await runCli(["logout"], { env: scratch.env })).code).toBe(0);
    expect(JSON.parse(fs.readFileSync(scratch.configFile, "utf8"))).toEqual({ apiUrl: DEAD_API });
  });
});

describe("cove up", () => {
  test("outside the repository it says how to start Cove", async () => {
    const result = await runCli(["up"], { env: scratch.env, cwd: os.tmpdir() });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("npm start");
    expect(result.stdout).toContain("cove login --api-url");
  });

  test("when Cove is already running it says where, and starts nothing", async () => {
    const dataDir = path.join(scratch.dir, "data");
    fs.mkdirSync(dataDir);
    // This test's own process stands in for the running supervisor.
    fs.writeFileSync(
      path.join(dataDir, "running.json"),
      JSON.stringify({
        pid: process.pid,
        startTime: "2026-01-01T00:00:00.000Z",
        apiUrl: "http://127.0.0.1:3999",
        proxyUrl: "http://127.0.0.1:4999",
        sshPort: 2999,
      }),
    );
    const root = path.resolve(__dirname, "../../..");
    const result = await runCli(["up"], {
      env: { ...scratch.env, COVE_DATA_DIR: dataDir },
      cwd: root,
    });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`Cove is already running (process ${process.pid}`);
    expect(result.stdout).toContain("http://127.0.0.1:3999");
    expect(result.stdout).not.toContain("undefined");
    expect(result.stderr).toBe("");
  });

  test("inside the repository it would run npm start at the root", async () => {
    const root = path.resolve(__dirname, "../../..");
    const result = await runCli(["up", "--dry-run"], {
      env: scratch.env,
      cwd: path.join(root, "server"),
    });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`would run \`npm start\` in ${root}`);
  });
});

describe("completion", () => {
  test("the bash script completes subcommands and flags from the command table", async () => {
    const result = await runCli(["completion", "bash"], { env: scratch.env });
    expect(result.code).toBe(0);
    const script = path.join(scratch.dir, "cove.bash");
    fs.writeFileSync(script, result.stdout);
    const complete = (words: string[]) => {
      const run = spawnSync(
        "bash",
        [
          "-c",
          `source ${script}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _cove_complete; echo "\${COMPREPLY[*]}"`,
        ],
        { encoding: "utf8" },
      );
      expect(run.stderr).toBe("");
      return run.stdout.trim().split(" ");
    };
    expect(complete(["cove", ""])).toEqual(
      expect.arrayContaining(["login", "up", "sandbox", "snapshot", "volume", "completion"]),
    );
    expect(complete(["cove", "sandbox", ""])).toEqual(
      expect.arrayContaining(["create", "list", "get", "start", "stop", "delete", "exec", "ssh"]),
    );
    expect(complete(["cove", "sandbox", "create", "--la"])).toEqual(["--label"]);
    expect(complete(["cove", "snapshot", "l"])).toEqual(["list"]);
  });

  test("the zsh script names every subcommand", async () => {
    const result = await runCli(["completion", "zsh"], { env: scratch.env });
    expect(result.code).toBe(0);
    expect(result.stdout.startsWith("#compdef cove\n")).toBe(true);
    for (const word of [
      "'sandbox:",
      "'create:",
      "'exec:",
      "'ssh:",
      "'snapshot:",
      "'volume:",
      "'--json'",
    ]) {
      expect(result.stdout).toContain(word);
    }
  });
});
