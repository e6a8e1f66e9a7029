// The command table's types and the argument parser: subcommands, --flags (with values, lists
// and one-letter aliases), positionals and a `--` rest, with usage errors that name the command.
import { UsageError } from "./errors.js";

/** A flag of one command. */
export interface FlagSpec {
  /** The long name, without the leading "--". */
  name: string;
  /** A one-letter alias, without the leading "-". */
  short?: string;
  /** boolean takes no value; string takes one (the last wins); list takes one per use. */
  kind: "boolean" | "string" | "list";
  /** How the value is shown in help, e.g. "MiB". */
  value?: string;
  /** One line for the help text. */
  summary: string;
}

/** A positional argument of one command. */
export interface ArgSpec {
  /** The name shown in help, e.g. "ID". */
  name: string;
  /** Whether it must be given. Default true. */
  optional?: boolean;
}

/** What a command's run function gets. */
export interface ParsedArgs {
  /** Positional arguments, in order. */
  args: string[];
  /** Everything after `--` (or after the positionals, for commands with a rest). */
  rest: string[];
  /** Flag values by long name: true for booleans, a string, or an array for lists. */
  flags: Record<string, boolean | string | string[] | undefined>;
}

/** A command: a group of subcommands, or a leaf that runs. */
export interface CommandSpec<Context = unknown> {
  /** The word that selects it. */
  name: string;
  /** One line for the help text. */
  summary: string;
  /** More help text, shown by --help under the summary. */
  description?: string;
  /** Positional arguments. */
  args?: ArgSpec[];
  /** When set, the command takes trailing words (shown as this, e.g. "COMMAND…"). */
  rest?: { name: string; required?: boolean };
  /** The command's own flags (--help is always added). */
  flags?: FlagSpec[];
  /** Subcommands; a command has either these or run. */
  subcommands?: CommandSpec<Context>[];
  /** Runs the command and returns the process exit code. */
  run?: (parsed: ParsedArgs, context: Context) => Promise<number>;
  /** Example invocations for --help. */
  examples?: string[];
}

/** The outcome of parsing: the command path and either help or arguments for run. */
export interface ParseResult<Context> {
  /** The selected commands from the root down. */
  path: CommandSpec<Context>[];
  /** Whether --help was asked for (or a group was named without a subcommand). */
  help: boolean;
  /** The parsed arguments for the leaf command. */
  parsed: ParsedArgs;
}

/** The flag every command accepts. */
export const HELP_FLAG: FlagSpec = {
  name: "help",
  short: "h",
  kind: "boolean",
  summary: "show help for this command",
};

/** commandName is "cove sandbox create" for a path. */
export function commandName(path: { name: string }[]): string {
  return path.map((c) => c.name).join(" ");
}

/**
 * parseArgs selects the command named by argv's leading words and parses the rest against
 * its flags. Throws UsageError for unknown commands or flags, missing values or arguments.
 */
export function parseArgs<Context>(
  root: CommandSpec<Context>,
  argv: string[],
): ParseResult<Context> {
  const path: CommandSpec<Context>[] = [root];
  let command = root;
  let i = 0;
  let help = false;
  // Walk down the groups: only --help may come before the leaf command.
  while (command.subcommands && i < argv.length) {
    const word = argv[i] as string;
    if (word === "--help" || word === "-h") {
      help = true;
      i++;
      continue;
    }
    if (word.startsWith("-")) {
      throw new UsageError(`unknown flag ${word} for \`${commandName(path)}\``, path);
    }
    const next = command.subcommands.find((c) => c.name === word);
    if (!next) {
      throw new UsageError(`unknown command \`${commandName(path)} ${word}\``, path);
    }
    command = next;
    path.push(command);
    i++;
  }
  const parsed: ParsedArgs = { args: [], rest: [], flags: {} };
  if (command.subcommands) return { path, help: true, parsed };

  const flags = [...(command.flags ?? []), HELP_FLAG];
  const byName = new Map(flags.map((f) => [f.name, f]));
  const byShort = new Map(flags.filter((f) => f.short).map((f) => [f.short as string, f]));
  const maxArgs = command.args?.length ?? 0;
  const set = (flag: FlagSpec, value: string | true) => {
    if (flag.kind === "list") {
      const list = (parsed.flags[flag.name] as string[] | undefined) ?? [];
      list.push(value as string);
      parsed.flags[flag.name] = list;
    } else {
      parsed.flags[flag.name] = value;
    }
  };

  for (; i < argv.length; i++) {
    const word = argv[i] as string;
    if (word === "--") {
      parsed.rest = argv.slice(i + 1);
      if (!command.rest && parsed.rest.length > 0) {
        throw new UsageError(`\`${commandName(path)}\` takes nothing after --`, path);
      }
      break;
    }
    if (word.startsWith("-") && word !== "-") {
      const long = word.startsWith("--");
      const eq = long ? word.indexOf("=") : -1;
      const key = long ? word.slice(2, eq === -1 ? undefined : eq) : word.slice(1);
      const flag = long ? byName.get(key) : byShort.get(key);
      if (!flag) throw new UsageError(`unknown flag ${word} for \`${commandName(path)}\``, path);
      if (flag.kind === "boolean") {
        if (eq !== -1) throw new UsageError(`--${flag.name} takes no value`, path);
        set(flag, true);
        continue;
      }
      let value: string | undefined;
      if (eq !== -1) value = word.slice(eq + 1);
      else {
        value = argv[i + 1];
        i++;
      }
      if (value === undefined) {
        throw new UsageError(`--${flag.name} needs a value (${flag.value ?? "VALUE"})`, path);
      }
      set(flag, value);
      continue;
    }
    if (parsed.args.length < maxArgs) {
      parsed.args.push(word);
      continue;
    }
    if (command.rest) {
      // Like `docker exec ID ls -la`: the first extra word starts the command.
      parsed.rest = argv.slice(i);
      break;
    }
    throw new UsageError(`unexpected argument \`${word}\` for \`${commandName(path)}\``, path);
  }
  if (parsed.flags.help === true) return { path, help: true, parsed };

  const required = (command.args ?? []).filter((a) => !a.optional);
  if (parsed.args.length < required.length) {
    const missing = required.slice(parsed.args.length).map((a) => a.name);
    throw new UsageError(`\`${commandName(path)}\` needs ${missing.join(" ")}`, path);
  }
  if (command.rest?.required && parsed.rest.length === 0) {
    throw new UsageError(
      `\`${commandName(path)}\` needs ${command.rest.name} (after the arguments, or after --)`,
      path,
    );
  }
  return { path, help, parsed };
}

/** helpText renders a command's usage, subcommands and flags. */
export function helpText<Context>(path: CommandSpec<Context>[]): string {
  const command = path[path.length - 1] as CommandSpec<Context>;
  const name = commandName(path);
  const lines: string[] = [];
  if (command.subcommands) {
    lines.push(`Usage: ${name} <command> [flags]`, "", command.summary);
    if (command.description) lines.push("", command.description);
    lines.push("", "Commands:");
    const width = Math.max(...command.subcommands.map((c) => c.name.length));
    for (const sub of command.subcommands) {
      lines.push(`  ${sub.name.padEnd(width)}  ${sub.summary}`);
    }
    lines.push("", `Run \`${name} <command> --help\` for a command's flags.`);
    return `${lines.join("\n")}\n`;
  }
  const args = (command.args ?? []).map((a) => (a.optional ? `[${a.name}]` : a.name));
  const rest = command.rest
    ? [command.rest.required ? `-- ${command.rest.name}` : `[-- ${command.rest.name}]`]
    : [];
  lines.push(`Usage: ${[name, ...args, "[flags]", ...rest].join(" ")}`, "", command.summary);
  if (command.description) lines.push("", command.description);
  const flags = [...(command.flags ?? []), HELP_FLAG];
  const label = (f: FlagSpec) =>
    `${f.short ? `-${f.short}, ` : "    "}--${f.name}${f.kind === "boolean" ? "" : ` ${f.value ?? "VALUE"}`}`;
  const width = Math.max(...flags.map((f) => label(f).length));
  lines.push("", "Flags:");
  for (const f of flags) {
    const repeat = f.kind === "list" ? " (repeatable)" : "";
    lines.push(`  ${label(f).padEnd(width)}  ${f.summary}${repeat}`);
  }
  if (command.examples?.length) {
    lines.push("", "Examples:", ...command.examples.map((e) => `  ${e}`));
  }
  return `${lines.join("\n")}\n`;
}
