// `cove sandbox ssh ID [-- COMMAND…]`: CreateSshAccess, then the system's OpenSSH client with
// the token as the user name (the gateway needs no password or key), or --print to show it.
import { spawn } from "node:child_process";
import { constants } from "node:os";
import { toJson } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { CreateSshAccessResponseSchema } from "@cove/gen-ts/cove/sandbox/v1/sandbox_service_pb.js";
import type { ParsedArgs } from "../args.js";
import { api } from "../clients.js";
import type { Context } from "../context.js";
import { CliError, UsageError } from "../errors.js";
import { boolFlag, intFlag, listFlag, stringFlag } from "../flags.js";
import { printJson, shellQuote } from "../output.js";

/**
 * The OpenSSH options the CLI adds after the user's own (for OpenSSH the first value of an
 * option wins, so -o from the command line overrides these): trust the gateway's host key on
 * first use without a prompt, and log in with the token alone.
 */
const DEFAULT_OPTIONS = ["StrictHostKeyChecking=accept-new", "PubkeyAuthentication=no"];

/** sshArgs builds the ssh command line (without the program name). */
export function sshArgs(options: {
  token: string;
  host: string;
  port: number;
  userOptions: string[];
  tty: "auto" | "force" | "none";
  command: string[];
}): string[] {
  const args = ["-p", String(options.port)];
  for (const option of [...options.userOptions, ...DEFAULT_OPTIONS]) args.push("-o", option);
  if (options.tty === "force") args.push("-t");
  if (options.tty === "none") args.push("-T");
  // `--` ends ssh's options, so that the destination and command are never read as options.
  args.push("--", `${options.token}@${options.host}`, ...options.command);
  return args;
}

/** sshIntoSandbox is `cove sandbox ssh`. */
export async function sshIntoSandbox(parsed: ParsedArgs, ctx: Context): Promise<number> {
  const [sandboxId = ""] = parsed.args;
  const expiry = intFlag(parsed, "expiry", { min: 60, max: 86_400 });
  if (boolFlag(parsed, "tty") && boolFlag(parsed, "no-tty")) {
    throw new UsageError("--tty and --no-tty contradict each other");
  }
  const access = await api(ctx).sandboxes.createSshAccess(
    { sandboxId, expiry: expiry ? durationFromMs(expiry * 1000) : undefined },
    { timeoutMs: 30_000 },
  );
  const config = ctx.config();
  const host = stringFlag(parsed, "host") ?? config.sshHost ?? access.host;
  const port = intFlag(parsed, "port", { min: 1, max: 65_535 }) ?? config.sshPort ?? access.port;
  if (!host || !port) throw new CliError("the server named no SSH gateway for this sandbox");
  const args = sshArgs({
    token: access.token,
    host,
    port,
    userOptions: listFlag(parsed, "option"),
    tty: boolFlag(parsed, "tty") ? "force" : boolFlag(parsed, "no-tty") ? "none" : "auto",
    // ssh joins the words of a remote command with spaces for the remote shell.
    command: parsed.rest,
  });
  if (boolFlag(parsed, "json")) {
    printJson(ctx.io, {
      ...(toJson(CreateSshAccessResponseSchema, access) as object),
      host,
      port,
      command: ["ssh", ...args],
    });
    return 0;
  }
  if (boolFlag(parsed, "print")) {
    ctx.io.stdout.write(`${["ssh", ...args].map(shellQuote).join(" ")}\n`);
    return 0;
  }
  return await runSsh(args);
}

/** runSsh runs ssh on the CLI's own terminal and returns its exit code. */
function runSsh(args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn("ssh", args, { stdio: "inherit" });
    // The terminal sends Ctrl-C to ssh too; the CLI waits for ssh to decide.
    const ignore = () => {};
    const signals: NodeJS.Signals[] = ["SIGINT", "SIGQUIT", "SIGTERM", "SIGHUP"];
    for (const s of signals) process.on(s, ignore);
    const cleanup = () => {
      for (const s of signals) process.off(s, ignore);
    };
    child.on("error", (err: NodeJS.ErrnoException) => {
      cleanup();
      reject(
        err.code === "ENOENT"
          ? new CliError(
              "the `ssh` program was not found",
              "install OpenSSH's client (openssh-client)",
            )
          : err,
      );
    });
    child.on("exit", (code, signal) => {
      cleanup();
      resolve(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 1));
    });
  });
}
