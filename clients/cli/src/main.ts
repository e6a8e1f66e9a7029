// The `cove` entry point: parse argv against the command table, run the command, print errors
// as one line plus a hint, and exit 0, 1 (error), 2 (usage) or the remote command's code.
import { commandName, helpText, parseArgs } from "./args.js";
import { commandTable } from "./command-table.js";
import { createContext } from "./context.js";
import { CliError, UsageError } from "./errors.js";
import type { Io } from "./output.js";

/** runCli runs one command line and returns the exit code. */
export async function runCli(argv: string[], io: Io): Promise<number> {
  const context = createContext(io);
  let path: { name: string }[] = [commandTable];
  try {
    const result = parseArgs(commandTable, argv);
    path = result.path;
    const command = result.path[result.path.length - 1];
    if (result.help || !command?.run) {
      // Asked for: stdout, success. A group named without a subcommand: stderr, usage error.
      const asked =
        result.parsed.flags.help === true || argv.includes("--help") || argv.includes("-h");
      (asked ? io.stdout : io.stderr).write(helpText(result.path));
      return asked ? 0 : 2;
    }
    return await command.run(result.parsed, context);
  } catch (err) {
    if (err instanceof UsageError) {
      const name = commandName(err.path ?? path);
      io.stderr.write(`cove: ${err.message}\nRun \`${name} --help\` for usage.\n`);
      return 2;
    }
    // Anything but the CLI's own errors came from a call: connect-errors explains those.
    const { message, hint } =
      err instanceof CliError
        ? { message: err.message, hint: err.hint }
        : (await import("./connect-errors.js")).describeError(err);
    io.stderr.write(`cove: ${message}\n${hint ? `hint: ${hint}\n` : ""}`);
    if (io.env.COVE_DEBUG === "1" && err instanceof Error) io.stderr.write(`${err.stack}\n`);
    return 1;
  }
}

/** flush waits until a stream has written what it was given. */
function flush(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => stream.write("", () => resolve()));
}

// A closed pipe downstream (`cove sandbox list | head`) is not an error.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(0);
});

const code = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
});
await Promise.all([flush(process.stdout), flush(process.stderr)]);
// Exit now: idle HTTP/2 sessions and a paused stdin must not keep the CLI alive.
process.exit(code);
