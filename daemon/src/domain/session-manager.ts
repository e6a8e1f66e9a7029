import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  alreadyExists,
  failedPrecondition,
  invalidArgument,
  notFound,
  resourceExhausted,
} from "@cove/common";
import type { ManagedProcess } from "./managed-process.js";
import type { ProcessManager } from "./process-manager.js";
import { makeScratchDir } from "./scratch-dirs.js";
import type { OsUser } from "./users.js";

/** Sessions one daemon keeps at once. */
export const MAX_SESSIONS = 64;
/** Commands remembered per session (metadata). */
export const MAX_COMMANDS_REMEMBERED = 1000;
/** Commands per session whose output is still held for GetSessionCommandLogs. */
export const MAX_COMMANDS_WITH_LOGS = 100;

/** One command run in a session. */
export interface SessionCommand {
  /** Id, unique within the session. */
  id: string;
  /** The command text as given. */
  command: string;
  /** The process that ran it; dropped (undefined) once it falls out of the log window. */
  process: ManagedProcess | undefined;
  /** Start time. */
  startTime: Date;
  /** Exit code once finished. */
  exitCode: number | undefined;
  /** Whether it was killed for its timeout. */
  timedOut: boolean;
  /** End time once finished. */
  endTime: Date | undefined;
}

/** A persistent shell session: cwd, variables, functions and aliases survive between commands. */
export interface Session {
  /** Id. */
  id: string;
  /** OS user commands run as. */
  user: OsUser | undefined;
  /** Environment given at creation, applied to every command. */
  env: Record<string, string>;
  /** Creation time. */
  createTime: Date;
  /** Commands, oldest first (at most MAX_COMMANDS_REMEMBERED). */
  commands: SessionCommand[];
  /** Total commands ever run. */
  commandCount: number;
  /** The folder holding the saved shell state. */
  stateDir: string;
  /** The shell used: bash when the image has it, else sh (cwd and exported variables only). */
  shell: "bash" | "sh";
  /** The command running now, if any. */
  running: SessionCommand | undefined;
}

/** What SessionManager.execute needs besides the session. */
export interface SessionRun {
  /** The command text; may span lines, use heredocs, cd, export, define functions. */
  command: string;
  /** Keep stdin open for SendSessionInput. */
  openStdin: boolean;
  /** Kill after this many ms; undefined for none. */
  timeoutMs: number | undefined;
  /** Output bytes kept per stream. */
  bufferBytes: number;
}

const ID_PATTERN = /^[A-Za-z0-9_.-]{1,128}$/;

/** Variables bash manages itself; restoring them would fail or lie. */
const BASH_SPECIAL =
  "BASH*|EUID|PPID|UID|SHELLOPTS|PIPESTATUS|FUNCNAME|GROUPS|RANDOM|SRANDOM|SECONDS|LINENO|HISTCMD|EPOCH*|_|PWD|COLUMNS|LINES|DIRSTACK|COMP_*|MAPFILE|READLINE_*|__cove_*";

function q(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/**
 * The wrapper each command runs in. It restores the saved state, runs the command file in the
 * current shell (so heredocs, cd, export and functions work as typed), and saves the state
 * again on exit — even when the command calls `exit`. A command killed by its timeout saves
 * nothing: the session keeps the state from before it.
 */
function wrapper(shell: "bash" | "sh", stateDir: string, commandFile: string): string {
  const state = path.join(stateDir, "state.sh");
  const cwd = path.join(stateDir, "cwd");
  if (shell === "sh") {
    return [
      `[ -f ${q(state)} ] && . ${q(state)} >/dev/null 2>&1`,
      `[ -f ${q(cwd)} ] && cd -- "$(cat ${q(cwd)})" 2>/dev/null`,
      `__cove_save() { export -p > ${q(`${state}.tmp`)} 2>/dev/null && mv -f ${q(`${state}.tmp`)} ${q(state)}; printf %s "$PWD" > ${q(cwd)}; }`,
      "trap __cove_save EXIT",
      `. ${q(commandFile)}`,
      "",
    ].join("\n");
  }
  return [
    `[ -f ${q(state)} ] && builtin source ${q(state)} >/dev/null 2>&1`,
    "__cove_save() {",
    "  {",
    `    builtin printf 'builtin cd -- %q\\n' "$PWD"`,
    "    local __cove_v",
    `    for __cove_v in $(compgen -v); do case $__cove_v in ${BASH_SPECIAL}) continue;; esac; builtin declare -p "$__cove_v" 2>/dev/null | builtin command sed '1s/^declare /declare -g /'; done`,
    "    local __cove_f",
    '    for __cove_f in $(compgen -A function); do case $__cove_f in __cove_*) continue;; esac; builtin declare -f "$__cove_f"; done',
    "    builtin alias -p",
    `  } > ${q(`${state}.tmp`)} 2>/dev/null && builtin command mv -f ${q(`${state}.tmp`)} ${q(state)}`,
    `  builtin printf %s "$PWD" > ${q(cwd)} 2>/dev/null`,
    "}",
    "trap __cove_save EXIT",
    "shopt -s expand_aliases",
    `builtin source ${q(commandFile)}`,
    "",
  ].join("\n");
}

/** SessionManager runs commands in persistent shell sessions, one command at a time each. */
export class SessionManager {
  private readonly sessions = new Map<string, Session>();
  private readonly root: string;

  constructor(private readonly processes: ProcessManager) {
    this.root = fs.mkdtempSync(path.join(os.tmpdir(), "cove-sessions-"));
    fs.chmodSync(this.root, 0o711);
  }

  /** create starts a session in `cwd`; ALREADY_EXISTS for a taken id. */
  create(id: string, cwd: string, env: Record<string, string>, user: OsUser | undefined): Session {
    const sessionId = id === "" ? `s-${randomBytes(6).toString("hex")}` : id;
    if (!ID_PATTERN.test(sessionId)) {
      throw invalidArgument("session_id", "must be 1-128 characters of A-Z a-z 0-9 _ . -");
    }
    if (this.sessions.has(sessionId)) {
      throw alreadyExists("SESSION_ALREADY_EXISTS", `session "${sessionId}" already exists`, {
        sessionId,
      });
    }
    if (this.sessions.size >= MAX_SESSIONS) {
      throw resourceExhausted(
        "STREAM_LIMIT_EXCEEDED",
        `at most ${MAX_SESSIONS} sessions may exist at once`,
        {
          limit: String(MAX_SESSIONS),
        },
      );
    }
    const stateDir = makeScratchDir("s-", this.root);
    const cwdFile = path.join(stateDir, "cwd");
    fs.writeFileSync(cwdFile, cwd);
    // The session's commands run as the user and rewrite these files.
    if (user) {
      fs.chownSync(stateDir, user.uid, user.gid);
      fs.chownSync(cwdFile, user.uid, user.gid);
    }
    const session: Session = {
      id: sessionId,
      user,
      env,
      createTime: new Date(),
      commands: [],
      commandCount: 0,
      stateDir,
      shell: fs.existsSync("/bin/bash") ? "bash" : "sh",
      running: undefined,
    };
    this.sessions.set(sessionId, session);
    return session;
  }

  /** get returns a session; NOT_FOUND (SESSION_NOT_FOUND) otherwise. */
  get(id: string): Session {
    const session = this.sessions.get(id);
    if (!session) throw notFound("SESSION_NOT_FOUND", `no session "${id}"`, { sessionId: id });
    return session;
  }

  /** list returns every session. */
  list(): Session[] {
    return [...this.sessions.values()];
  }

  /** cwd is the session's current directory, as its last command left it. */
  cwd(session: Session): string {
    try {
      return fs.readFileSync(path.join(session.stateDir, "cwd"), "utf8");
    } catch {
      return "";
    }
  }

  /** delete kills a running command and forgets the session. */
  delete(id: string): void {
    const session = this.get(id);
    session.running?.process?.kill("SIGKILL");
    this.sessions.delete(id);
    fs.rmSync(session.stateDir, { recursive: true, force: true });
  }

  /** command finds a command of a session; NOT_FOUND (SESSION_COMMAND_NOT_FOUND) otherwise. */
  command(session: Session, commandId: string): SessionCommand {
    const command = session.commands.find((c) => c.id === commandId);
    if (!command) {
      throw notFound(
        "SESSION_COMMAND_NOT_FOUND",
        `session "${session.id}" has no command "${commandId}"`,
        {
          sessionId: session.id,
          commandId,
        },
      );
    }
    return command;
  }

  /** execute starts a command; FAILED_PRECONDITION (SESSION_BUSY) while another one runs. */
  async execute(session: Session, run: SessionRun): Promise<SessionCommand> {
    if (run.command.trim() === "") throw invalidArgument("command", "must not be empty");
    if (session.running) {
      throw failedPrecondition(
        "SESSION_BUSY",
        `session "${session.id}" is running command ${session.running.id}`,
        {
          sessionId: session.id,
          commandId: session.running.id,
        },
      );
    }
    const id = `c-${session.commandCount + 1}-${randomBytes(3).toString("hex")}`;
    const commandFile = path.join(session.stateDir, `${id}.sh`);
    fs.writeFileSync(commandFile, run.command.endsWith("\n") ? run.command : `${run.command}\n`);
    const script = path.join(session.stateDir, `${id}.run`);
    fs.writeFileSync(script, wrapper(session.shell, session.stateDir, commandFile));
    if (session.user) {
      fs.chownSync(commandFile, session.user.uid, session.user.gid);
      fs.chownSync(script, session.user.uid, session.user.gid);
    }
    const cwd = this.cwd(session) || session.user?.home || "/";
    const shell = session.shell === "bash" ? "/bin/bash" : "/bin/sh";
    const command: SessionCommand = {
      id,
      command: run.command,
      process: undefined,
      startTime: new Date(),
      exitCode: undefined,
      timedOut: false,
      endTime: undefined,
    };
    session.running = command;
    try {
      command.process = await this.processes.start({
        program: { argv: [shell, script] },
        cwd: fs.existsSync(cwd) ? cwd : "/",
        env: session.env,
        user: session.user,
        tag: "",
        timeoutMs: run.timeoutMs,
        openStdin: run.openStdin,
        bufferBytes: run.bufferBytes,
        retain: false,
      });
    } catch (err) {
      session.running = undefined;
      throw err;
    }
    session.commandCount++;
    session.commands.push(command);
    if (session.commands.length > MAX_COMMANDS_REMEMBERED) session.commands.shift();
    const withLogs = session.commands.filter((c) => c.process);
    if (withLogs.length > MAX_COMMANDS_WITH_LOGS)
      (withLogs[0] as SessionCommand).process = undefined;
    void command.process.done.then((exit) => {
      command.exitCode = exit.exitCode;
      command.timedOut = exit.timedOut;
      command.endTime = exit.endTime;
      if (session.running === command) session.running = undefined;
      fs.rmSync(commandFile, { force: true });
      fs.rmSync(script, { force: true });
    });
    return command;
  }

  /** close kills running commands and removes every session's state. */
  close(): void {
    for (const session of this.sessions.values()) session.running?.process?.kill("SIGKILL");
    this.sessions.clear();
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}
