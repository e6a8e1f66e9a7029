// The `cove` command table: every command, its arguments, flags and help. Parsing, --help and
// the completion scripts are generated from it; each command's code is loaded only when it
// runs, so that help and usage errors answer at once.
import type { CommandSpec, FlagSpec, ParsedArgs } from "./args.js";
import { bashCompletion, zshCompletion } from "./completion.js";
import { DEFAULT_API_URL } from "./config.js";
import type { Context } from "./context.js";
import { UsageError } from "./errors.js";

/** The CLI's version, shown by `cove version`. */
export const VERSION = "0.1.0";

/** A command's run function. */
type Run = (parsed: ParsedArgs, ctx: Context) => Promise<number>;

/** lazy loads a module on first run and calls one of its run functions. */
function lazy<M extends Record<string, unknown>>(load: () => Promise<M>, name: keyof M): Run {
  return async (parsed, ctx) => ((await load())[name] as Run)(parsed, ctx);
}

const sandboxes = () => import("./commands/sandbox.js");
const snapshots = () => import("./commands/snapshot.js");
const volumes = () => import("./commands/volume.js");
const logins = () => import("./commands/login.js");
const orgs = () => import("./commands/org.js");
const keys = () => import("./commands/key.js");

/** --json, on every command that prints data. */
const JSON_FLAG: FlagSpec = { name: "json", kind: "boolean", summary: "print JSON" };

const NO_WAIT: FlagSpec = {
  name: "no-wait",
  kind: "boolean",
  summary: "return at once instead of waiting for the sandbox to get there",
};

const WAIT_TIMEOUT: FlagSpec = {
  name: "timeout",
  kind: "string",
  value: "SECONDS",
  summary: "how long to wait (default 120; at most 600)",
};

const ID = [{ name: "ID" }];

const label = (what: string): FlagSpec => ({
  name: "label",
  kind: "list",
  value: "KEY=VALUE",
  summary: what,
});

const sandboxCommand: CommandSpec<Context> = {
  name: "sandbox",
  summary: "create, list and manage sandboxes; run commands in them",
  subcommands: [
    {
      name: "create",
      summary: "create a sandbox and wait until it is started; prints its id",
      flags: [
        {
          name: "image",
          kind: "string",
          value: "IMAGE",
          summary: "image to run (default: the server's base image)",
        },
        {
          name: "cpu",
          kind: "string",
          value: "MILLICORES",
          summary: "CPU limit, 1000 = one core (default 1000)",
        },
        { name: "memory", kind: "string", value: "MiB", summary: "memory limit (default 1024)" },
        { name: "disk", kind: "string", value: "MiB", summary: "disk size (default 3072)" },
        label("a label"),
        { name: "env", kind: "list", value: "NAME=VALUE", summary: "an environment variable" },
        { name: "public", kind: "boolean", summary: "make preview URLs work without a token" },
        NO_WAIT,
        WAIT_TIMEOUT,
        JSON_FLAG,
      ],
      examples: [
        "cove sandbox create",
        "cove sandbox create --image python:3.12-slim --memory 2048 --label team=ml",
        "id=$(cove sandbox create --label ci=1) && cove sandbox exec $id -- uname -a",
      ],
      run: lazy(sandboxes, "createSandbox"),
    },
    {
      name: "list",
      summary: "list sandboxes, newest first",
      flags: [
        label("only sandboxes with this label"),
        { name: "all", kind: "boolean", summary: "include destroyed sandboxes" },
        { name: "limit", kind: "string", value: "N", summary: "show at most N" },
        JSON_FLAG,
      ],
      run: lazy(sandboxes, "listSandboxes"),
    },
    {
      name: "get",
      summary: "show one sandbox",
      args: ID,
      flags: [JSON_FLAG],
      run: lazy(sandboxes, "getSandbox"),
    },
    {
      name: "start",
      summary: "start a stopped or archived sandbox",
      args: ID,
      flags: [NO_WAIT, WAIT_TIMEOUT, JSON_FLAG],
      run: lazy(sandboxes, "startSandbox"),
    },
    {
      name: "stop",
      summary: "stop a sandbox, keeping its files",
      args: ID,
      flags: [
        {
          name: "force",
          kind: "boolean",
          summary: "kill at once instead of SIGTERM and a grace period",
        },
        NO_WAIT,
        WAIT_TIMEOUT,
        JSON_FLAG,
      ],
      run: lazy(sandboxes, "stopSandbox"),
    },
    {
      name: "delete",
      summary: "delete a sandbox and its files",
      args: ID,
      flags: [NO_WAIT, WAIT_TIMEOUT, JSON_FLAG],
      run: lazy(sandboxes, "deleteSandbox"),
    },
    {
      name: "exec",
      summary: "run a command in a sandbox, streaming its output; exits with its exit code",
      description:
        "The command runs without a shell (use `sh -c '…'` for shell syntax), through the proxy.\n" +
        "Its stdin is closed unless --stdin is given. Ctrl-C and other signals are sent on to\n" +
        "the command; a third Ctrl-C disconnects, which kills it.",
      args: ID,
      rest: { name: "COMMAND…", required: true },
      flags: [
        {
          name: "stdin",
          short: "i",
          kind: "boolean",
          summary: "send the CLI's stdin to the command",
        },
        {
          name: "cwd",
          kind: "string",
          value: "DIR",
          summary: "working directory (default: the user's home)",
        },
        { name: "env", kind: "list", value: "NAME=VALUE", summary: "an environment variable" },
        {
          name: "user",
          kind: "string",
          value: "USER",
          summary: "run as this user (default: the sandbox's)",
        },
        {
          name: "timeout",
          kind: "string",
          value: "SECONDS",
          summary: "kill the command after this long",
        },
      ],
      examples: [
        "cove sandbox exec ID -- python3 -c 'print(1 + 1)'",
        "cove sandbox exec ID -- sh -c 'cd /tmp && ls -la'",
        "echo hello | cove sandbox exec --stdin ID -- cat",
      ],
      run: lazy(() => import("./commands/exec.js"), "execInSandbox"),
    },
    {
      name: "ssh",
      summary: "open an SSH session (or run a command) in a sandbox with the system's ssh",
      description:
        "Mints a short-lived SSH token (the user name; no key or password is needed) and runs\n" +
        "`ssh -p <port> <token>@<gateway>`. The gateway's host and port come from the server\n" +
        "unless --host/--port, COVE_SSH_HOST/COVE_SSH_PORT or `cove login --ssh-host/--ssh-port`\n" +
        "say otherwise. Exits with the remote command's exit code (255 when ssh itself fails).",
      args: ID,
      rest: { name: "COMMAND…" },
      flags: [
        { name: "print", kind: "boolean", summary: "print the ssh command instead of running it" },
        {
          name: "option",
          short: "o",
          kind: "list",
          value: "OPTION",
          summary: "an OpenSSH option, e.g. -o ServerAliveInterval=30",
        },
        { name: "host", kind: "string", value: "HOST", summary: "the SSH gateway's host" },
        { name: "port", kind: "string", value: "PORT", summary: "the SSH gateway's port" },
        {
          name: "expiry",
          kind: "string",
          value: "SECONDS",
          summary: "how long the token opens sessions (default 3600)",
        },
        { name: "tty", short: "t", kind: "boolean", summary: "force a terminal (ssh -t)" },
        { name: "no-tty", short: "T", kind: "boolean", summary: "no terminal (ssh -T)" },
        JSON_FLAG,
      ],
      examples: [
        "cove sandbox ssh ID",
        "cove sandbox ssh ID -- uname -a",
        "cove sandbox ssh ID --print",
      ],
      run: lazy(() => import("./commands/ssh.js"), "sshIntoSandbox"),
    },
  ],
};

const snapshotCommand: CommandSpec<Context> = {
  name: "snapshot",
  summary: "manage snapshots (the images sandboxes start from)",
  subcommands: [
    {
      name: "list",
      summary: "list snapshots",
      flags: [label("only snapshots with this label"), JSON_FLAG],
      run: lazy(snapshots, "listSnapshots"),
    },
    {
      name: "get",
      summary: "show one snapshot",
      args: ID,
      flags: [{ name: "name", kind: "boolean", summary: "ID is the snapshot's name" }, JSON_FLAG],
      run: lazy(snapshots, "getSnapshot"),
    },
    {
      name: "create",
      summary: "create a snapshot from an image or a sandbox",
      args: [{ name: "NAME" }],
      flags: [
        { name: "image", kind: "string", value: "IMAGE", summary: "the image to make it from" },
        {
          name: "from-sandbox",
          kind: "string",
          value: "ID",
          summary: "commit this sandbox's files",
        },
        label("a label"),
        { name: "wait", kind: "boolean", summary: "wait until it is active" },
        {
          name: "timeout",
          kind: "string",
          value: "SECONDS",
          summary: "how long --wait waits (default 600)",
        },
        JSON_FLAG,
      ],
      run: lazy(snapshots, "createSnapshot"),
    },
    {
      name: "delete",
      summary: "delete a snapshot",
      args: ID,
      flags: [JSON_FLAG],
      run: lazy(snapshots, "deleteSnapshot"),
    },
  ],
};

const volumeCommand: CommandSpec<Context> = {
  name: "volume",
  summary: "manage volumes (persistent storage mounted into sandboxes)",
  subcommands: [
    {
      name: "list",
      summary: "list volumes",
      flags: [label("only volumes with this label"), JSON_FLAG],
      run: lazy(volumes, "listVolumes"),
    },
    {
      name: "create",
      summary: "create a volume",
      args: [{ name: "NAME" }],
      flags: [
        {
          name: "size",
          kind: "string",
          value: "MiB",
          summary: "the most data it may hold (default: the disk quota)",
        },
        label("a label"),
        JSON_FLAG,
      ],
      run: lazy(volumes, "createVolume"),
    },
    {
      name: "delete",
      summary: "delete a volume and its data",
      args: ID,
      flags: [JSON_FLAG],
      run: lazy(volumes, "deleteVolume"),
    },
  ],
};

/** --org, for commands that act on one organization (default: the API key's own). */
const ORG_FLAG: FlagSpec = {
  name: "org",
  kind: "string",
  value: "ID",
  summary: "the organization (default: the API key's own)",
};

const orgCommand: CommandSpec<Context> = {
  name: "org",
  summary: "organizations, their members, usage and quotas",
  subcommands: [
    {
      name: "get",
      summary: "show an organization (default: the API key's own) and your role in it",
      args: [{ name: "ID", optional: true }],
      flags: [JSON_FLAG],
      run: lazy(orgs, "getOrg"),
    },
    {
      name: "list",
      summary: "list the organizations your key can see",
      flags: [JSON_FLAG],
      run: lazy(orgs, "listOrgs"),
    },
    {
      name: "create",
      summary: "create an organization that you own; prints its id",
      args: [{ name: "NAME" }],
      flags: [JSON_FLAG],
      run: lazy(orgs, "createOrg"),
    },
    {
      name: "rename",
      summary: "rename an organization (admin or owner)",
      args: [{ name: "ID" }, { name: "NAME" }],
      flags: [JSON_FLAG],
      run: lazy(orgs, "renameOrg"),
    },
    {
      name: "delete",
      summary: "delete an organization without sandboxes (owner)",
      args: ID,
      flags: [JSON_FLAG],
      run: lazy(orgs, "deleteOrg"),
    },
    {
      name: "usage",
      summary: "what an organization uses, next to its quota",
      args: [{ name: "ID", optional: true }],
      flags: [JSON_FLAG],
      run: lazy(orgs, "orgUsage"),
    },
    {
      name: "member",
      summary: "list, add, change and remove members",
      subcommands: [
        {
          name: "list",
          summary: "list an organization's members",
          flags: [ORG_FLAG, JSON_FLAG],
          run: lazy(orgs, "listMembers"),
        },
        {
          name: "add",
          summary: "add a member by email (the user is created if needed)",
          description:
            "With --key-scope the member also gets a first API key acting as them in this\n" +
            "organization (bounded by your key and their role); its secret is printed once.",
          args: [{ name: "EMAIL" }],
          flags: [
            {
              name: "role",
              kind: "string",
              value: "ROLE",
              summary: "owner, admin, member or viewer (required)",
            },
            { name: "name", kind: "string", value: "NAME", summary: "the new user's display name" },
            {
              name: "key-scope",
              kind: "list",
              value: "SCOPE",
              summary: "a scope of the member's first API key (e.g. sandboxes:write)",
            },
            { name: "key-name", kind: "string", value: "NAME", summary: "that key's name" },
            ORG_FLAG,
            JSON_FLAG,
          ],
          examples: [
            "cove org member add ada@example.com --role member",
            "cove org member add ci@example.com --role member --key-scope sandboxes:read --key-scope sandboxes:write",
          ],
          run: lazy(orgs, "addMember"),
        },
        {
          name: "set-role",
          summary: "change a member's role",
          args: [{ name: "USER_ID" }, { name: "ROLE" }],
          flags: [ORG_FLAG, JSON_FLAG],
          run: lazy(orgs, "setMemberRole"),
        },
        {
          name: "remove",
          summary: "remove a member (their API keys there are revoked)",
          args: [{ name: "USER_ID" }],
          flags: [ORG_FLAG, JSON_FLAG],
          run: lazy(orgs, "removeMember"),
        },
      ],
    },
  ],
};

const keyCommand: CommandSpec<Context> = {
  name: "key",
  summary: "create, list and revoke API keys",
  subcommands: [
    {
      name: "create",
      summary: "create an API key acting as you; prints its secret (shown only once)",
      args: [{ name: "NAME" }],
      flags: [
        {
          name: "scope",
          kind: "list",
          value: "SCOPE",
          summary: "what the key may do, e.g. sandboxes:read, sandboxes:write, '*' (required)",
        },
        {
          name: "expires-in",
          kind: "string",
          value: "SECONDS",
          summary: "the key stops working after this long (default: never)",
        },
        ORG_FLAG,
        JSON_FLAG,
      ],
      examples: [
        "cove key create ci --scope sandboxes:read --scope sandboxes:write --expires-in 86400",
        "export COVE_API_KEY=$(cove key create laptop --scope '*')",
      ],
      run: lazy(keys, "createKey"),
    },
    {
      name: "list",
      summary: "list API keys, newest first (active ones unless --state says otherwise)",
      flags: [
        {
          name: "state",
          kind: "list",
          value: "STATE",
          summary: "active, expired or revoked (repeatable)",
        },
        JSON_FLAG,
      ],
      run: lazy(keys, "listKeys"),
    },
    {
      name: "get",
      summary: "show one API key (never its secret)",
      args: ID,
      flags: [JSON_FLAG],
      run: lazy(keys, "getKey"),
    },
    {
      name: "revoke",
      summary: "revoke an API key at once",
      args: ID,
      flags: [JSON_FLAG],
      run: lazy(keys, "revokeKey"),
    },
  ],
};

const auditCommand: CommandSpec<Context> = {
  name: "audit",
  summary: "show the organization's audit log, newest first (admins and owners)",
  flags: [
    {
      name: "since",
      kind: "string",
      value: "WHEN",
      summary: "only events since then: 15m, 2h, 7d, or an RFC 3339 time",
    },
    {
      name: "method",
      kind: "string",
      value: "RPC",
      summary: "only this RPC, e.g. cove.sandbox.v1.SandboxService/DeleteSandbox",
    },
    {
      name: "resource-type",
      kind: "string",
      value: "TYPE",
      summary: "only sandbox, member, api_key, …",
    },
    { name: "resource-id", kind: "string", value: "ID", summary: "only events about this object" },
    { name: "user", kind: "string", value: "USER_ID", summary: "only events by this user" },
    { name: "limit", kind: "string", value: "N", summary: "show at most N (default 50)" },
    JSON_FLAG,
  ],
  examples: ["cove audit --since 1h", "cove audit --resource-type sandbox --resource-id ID"],
  run: lazy(() => import("./commands/audit.js"), "listAudit"),
};

/** completion prints the script for bash or zsh. */
async function completion(parsed: ParsedArgs, ctx: Context): Promise<number> {
  const [shell] = parsed.args;
  if (shell !== "bash" && shell !== "zsh")
    throw new UsageError("`cove completion` takes bash or zsh");
  ctx.io.stdout.write(shell === "zsh" ? zshCompletion(commandTable) : bashCompletion(commandTable));
  return 0;
}

/** The root command, `cove`. */
export const commandTable: CommandSpec<Context> = {
  name: "cove",
  summary: "cove — create sandboxes and run code in them, over Cove's gRPC API",
  description:
    "Settings come from `cove login` (~/.config/cove/config.json) and the environment:\n" +
    "COVE_API_URL, COVE_API_KEY, COVE_PROXY_URL, COVE_SSH_HOST, COVE_SSH_PORT.\n" +
    "Exit codes: 0 success, 1 error, 2 usage error; exec and ssh exit with the remote code.",
  subcommands: [
    {
      name: "login",
      summary: "check an API key and store it with the server's URLs",
      description:
        "Settings go to $XDG_CONFIG_HOME/cove/config.json (default ~/.config/cove/config.json),\n" +
        "readable only by you. COVE_API_URL, COVE_API_KEY, COVE_PROXY_URL, COVE_SSH_HOST and\n" +
        "COVE_SSH_PORT override them for one command.",
      flags: [
        {
          name: "api-url",
          kind: "string",
          value: "URL",
          summary: `the API server (default ${DEFAULT_API_URL})`,
        },
        {
          name: "api-key",
          kind: "string",
          value: "KEY",
          summary: "the API key; - reads it from stdin",
        },
        {
          name: "proxy-url",
          kind: "string",
          value: "URL",
          summary: "the proxy for toolbox calls (default: what the server says)",
        },
        {
          name: "ssh-host",
          kind: "string",
          value: "HOST",
          summary: "the SSH gateway's host (default: what the server says)",
        },
        {
          name: "ssh-port",
          kind: "string",
          value: "PORT",
          summary: "the SSH gateway's port (default: what the server says)",
        },
        { name: "no-verify", kind: "boolean", summary: "store the key without asking the server" },
      ],
      examples: [
        "cove login --api-url http://127.0.0.1:3000 --api-key cove_sk_…",
        "cove login --api-key - < ~/.cove/admin-api-key",
      ],
      run: lazy(logins, "login"),
    },
    { name: "logout", summary: "forget the stored API key", run: lazy(logins, "logout") },
    {
      name: "up",
      summary: "start a local Cove (runs `npm start` inside the repository, else says how)",
      flags: [{ name: "dry-run", kind: "boolean", summary: "say what would run, and run nothing" }],
      run: lazy(() => import("./commands/up.js"), "up"),
    },
    sandboxCommand,
    snapshotCommand,
    volumeCommand,
    orgCommand,
    keyCommand,
    auditCommand,
    {
      name: "completion",
      summary: "print a shell completion script (bash or zsh)",
      description: "bash: source <(cove completion bash)\nzsh:  source <(cove completion zsh)",
      args: [{ name: "SHELL" }],
      run: completion,
    },
    {
      name: "version",
      summary: "print the CLI's version",
      run: async (_parsed, ctx) => {
        ctx.io.stdout.write(`cove ${VERSION}\n`);
        return 0;
      },
    },
  ],
};
