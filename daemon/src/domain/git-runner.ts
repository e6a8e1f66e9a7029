import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { CoveError, failedPrecondition, resourceExhausted } from "@cove/common";
import { findOnPath } from "./code-runner.js";
import { ManagedProcess } from "./managed-process.js";
import { MARKER_VARIABLE } from "./process-tree.js";
import { userEnvironment } from "./run-as.js";
import { makeScratchDir } from "./scratch-dirs.js";
import type { OsUser } from "./users.js";

/** Most stderr (the tail, scrubbed) put in an error's metadata, in bytes. */
export const MAX_STDERR_BYTES = 8 * 1024;
/** Default cap on the stdout a git command may produce, in bytes. */
const DEFAULT_STDOUT_BYTES = 16 * 1024 * 1024;
/** How many git commands may run at once. */
const MAX_RUNNING = 64;

/** Secret username and password for one network command. */
export interface GitCredentials {
  /** User name (never logged). */
  username: string;
  /** Password or token (never logged, scrubbed from errors). */
  password: string;
}

/** One git invocation. */
export interface GitRun {
  /** Working directory (must exist). */
  cwd: string;
  /** Arguments after git's global options, e.g. ["status", "--porcelain=v2"]. */
  args: string[];
  /** OS user to run as; undefined runs as the daemon's own user. */
  user: OsUser | undefined;
  /** Kill the whole tree after this many ms. */
  timeoutMs: number;
  /** Aborting kills the command (e.g. the RPC was cancelled). */
  signal?: AbortSignal;
  /** Credentials, handed to git through a one-off askpass helper. */
  credentials?: GitCredentials;
  /** Bytes written to stdin (then closed); stdin is /dev/null otherwise. */
  stdin?: string | Buffer;
  /** Extra `-c key=value` settings for this command only. */
  config?: string[];
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Cap on stdout, in bytes (default 16 MiB). */
  maxStdoutBytes?: number;
  /** On reaching the cap: stop git and keep what was read (true) or fail (false, default). */
  stopAtLimit?: boolean;
  /** Return a non-zero exit instead of throwing GIT_FAILED. */
  allowFailure?: boolean;
  /** The remote URL, named (without credentials) in GIT_AUTH_FAILED errors. */
  url?: string;
}

/** What a git command printed and how it ended. */
export interface GitResult {
  /** Exit code (0 when stopped at the stdout cap on purpose). */
  exitCode: number;
  /** stdout, at most the cap. */
  stdout: Buffer;
  /** Whether stdout was cut at the cap. */
  stdoutTruncated: boolean;
  /** stderr (its tail), with credentials scrubbed. */
  stderr: string;
}

/** Variables that would point git at another repository, index or trace file: never inherited. */
const DROPPED_ENV =
  /^(COVE_.*|GIT_(DIR|WORK_TREE|INDEX_FILE|OBJECT_DIRECTORY|ALTERNATE_OBJECT_DIRECTORIES|COMMON_DIR|NAMESPACE|PREFIX|QUARANTINE_PATH|ASKPASS|TERMINAL_PROMPT|TRACE.*|REDACT_COOKIES|CEILING_DIRECTORIES)|LC_ALL)$/;

/** Remote answers that mean "who are you?" or "not with those credentials". */
const AUTH_FAILURE =
  /Authentication failed|could not read (Username|Password)|terminal prompts disabled|returned error: 40[13]|HTTP Basic: Access denied|Permission denied \((publickey|keyboard-interactive|password)|Invalid username or password|Host key verification failed/i;

const ASKPASS_SCRIPT = `#!/bin/sh
# Answers git's credential prompts from this command's own environment; holds no secret itself.
case "$1" in
  [Uu]sername*) printf '%s\\n' "$COVE_GIT_USERNAME" ;;
  *) printf '%s\\n' "$COVE_GIT_PASSWORD" ;;
esac
`;

/**
 * scrubSecrets replaces every occurrence of the secrets (raw and URL-encoded) and the password
 * part of any `scheme://user:password@` in text with "***".
 */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret === "") continue;
    for (const form of new Set([secret, encodeURIComponent(secret)])) {
      out = out.split(form).join("***");
    }
  }
  return out.replace(/([A-Za-z][A-Za-z0-9+.-]*:\/\/[^/\s@:'"]*):[^/\s@'"]*@/g, "$1:***@");
}

/** urlWithoutCredentials drops a URL's user:password part for error metadata. */
export function urlWithoutCredentials(url: string): string {
  return url.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^/@]*@/, "$1");
}

function summary(text: string): string {
  const lines = text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "");
  const line =
    [...lines].reverse().find((l) => /^(fatal|error):/.test(l)) ?? lines.at(-1) ?? "no output";
  return line.length > 500 ? `${line.slice(0, 500)}…` : line;
}

function tailBytes(text: string, max: number): string {
  const bytes = Buffer.from(text);
  if (bytes.length <= max) return text;
  return bytes
    .subarray(bytes.length - max)
    .toString("utf8")
    .replace(/^\uFFFD+/, "");
}

/**
 * GitRunner runs the sandbox's git binary with an argv (never a shell) as the sandbox user:
 * in its own process group with a timeout that kills the tree, prompts disabled, the ext::
 * transport refused, and credentials handed over through a private askpass helper for that
 * one command. Failures become GIT_FAILED / GIT_AUTH_FAILED / COMMAND_TIMED_OUT errors with
 * credentials scrubbed.
 */
export class GitRunner {
  private readonly running = new Set<ManagedProcess>();

  constructor(
    private readonly sandboxEnv: Record<string, string>,
    private readonly initPath: string | undefined = undefined,
  ) {}

  /** env is the environment git runs with (before credentials and the marker). */
  env(user: OsUser | undefined): Record<string, string> {
    const env = userEnvironment(this.sandboxEnv, user, { drop: DROPPED_ENV });
    // English messages (auth failures are recognised by them); output we parse is -z/porcelain.
    env.LC_ALL = "C";
    env.GIT_TERMINAL_PROMPT = "0";
    env.GCM_INTERACTIVE = "never";
    env.GIT_EDITOR = "true";
    env.GIT_SEQUENCE_EDITOR = "true";
    env.GIT_MERGE_AUTOEDIT = "no";
    env.GIT_PAGER = "cat";
    return env;
  }

  /** gitPath finds git on the sandbox's PATH; FAILED_PRECONDITION (RUNTIME_NOT_INSTALLED) if absent. */
  gitPath(user: OsUser | undefined = undefined): string {
    const found = findOnPath("git", this.env(user).PATH);
    if (!found) {
      throw failedPrecondition(
        "RUNTIME_NOT_INSTALLED",
        "git is not installed in this sandbox's image",
        { runtime: "git" },
      );
    }
    return found;
  }

  /** run runs one git command to its end; see GitRun. */
  async run(spec: GitRun): Promise<GitResult> {
    if (this.running.size >= MAX_RUNNING) {
      throw resourceExhausted(
        "STREAM_LIMIT_EXCEEDED",
        `at most ${MAX_RUNNING} git commands may run at once`,
        { limit: String(MAX_RUNNING) },
      );
    }
    const git = this.gitPath(spec.user);
    const secrets = spec.credentials
      ? [spec.credentials.password, spec.credentials.username].filter((s) => s.length > 0)
      : [];
    const env = { ...this.env(spec.user), ...spec.env };
    const config = ["protocol.ext.allow=never", ...(spec.config ?? [])];
    let askpassDir: string | undefined;
    const removeAskpass = () => {
      if (askpassDir) fs.rmSync(askpassDir, { recursive: true, force: true });
      askpassDir = undefined;
    };
    if (spec.credentials) {
      askpassDir = writeAskpass(spec.user);
      env.GIT_ASKPASS = path.join(askpassDir, "askpass.sh");
      env.COVE_GIT_USERNAME = spec.credentials.username;
      env.COVE_GIT_PASSWORD = spec.credentials.password;
      // Credential helpers would be asked first and may store what succeeded: not these.
      config.unshift("credential.helper=");
    }
    const mark = randomBytes(9).toString("base64url");
    env[MARKER_VARIABLE] = mark;
    const argv = [...config.flatMap((c) => ["-c", c]), ...spec.args];
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(git, argv, {
        cwd: spec.cwd,
        env,
        stdio: [spec.stdin !== undefined ? "pipe" : "ignore", "pipe", "pipe"],
        detached: true, // its own process group: the timeout reaches helpers (ssh, remote-https)
        uid: spec.user?.uid,
        gid: spec.user?.gid,
      });
    } catch (err) {
      removeAskpass();
      throw err;
    }
    if (child.pid === undefined) {
      const err = await new Promise<NodeJS.ErrnoException>((resolve) =>
        child.once("error", resolve),
      );
      removeAskpass();
      if (err.code === "ENOENT") {
        throw failedPrecondition("RUNTIME_NOT_INSTALLED", "git could not be started", {
          runtime: "git",
        });
      }
      throw failedPrecondition("INTERNAL", `cannot run git: ${err.message}`);
    }
    child.on("error", () => {
      // reported through the exit
    });
    const proc = new ManagedProcess(
      child.pid,
      {
        command: `git ${spec.args[0] ?? ""}`,
        cwd: spec.cwd,
        user: spec.user?.name ?? "",
        tag: "",
        pty: false,
      },
      child,
      {
        bufferBytes: 64 * 1024,
        timeoutMs: spec.timeoutMs,
        stdinOpen: false,
        mark,
        owner: spec.user
          ? { uid: spec.user.uid, gid: spec.user.gid, initPath: this.initPath }
          : undefined,
      },
    );
    this.running.add(proc);
    const cap = spec.maxStdoutBytes ?? DEFAULT_STDOUT_BYTES;
    const chunks: Buffer[] = [];
    let held = 0;
    let truncated = false;
    child.stdout?.on("data", (chunk: Buffer) => {
      if (truncated) return;
      const room = cap - held;
      if (chunk.length > room) {
        chunks.push(chunk.subarray(0, room));
        held = cap;
        truncated = true;
        proc.kill("SIGKILL");
        return;
      }
      chunks.push(chunk);
      held += chunk.length;
    });
    if (spec.stdin !== undefined) child.stdin?.end(spec.stdin);
    const onAbort = () => proc.kill("SIGKILL");
    spec.signal?.addEventListener("abort", onAbort, { once: true });
    if (spec.signal?.aborted) onAbort();
    let exit: Awaited<ManagedProcess["done"]>;
    try {
      exit = await proc.done;
    } finally {
      spec.signal?.removeEventListener("abort", onAbort);
      this.running.delete(proc);
      removeAskpass();
    }
    const stderr = scrubSecrets(proc.stderr.tail().data.toString("utf8"), secrets);
    const stdout = Buffer.concat(chunks);
    const what = spec.args.find((a) => !a.startsWith("-")) ?? "command";
    if (exit.timedOut) {
      throw new CoveError(
        "deadlineExceeded",
        "COMMAND_TIMED_OUT",
        `git ${what} did not finish within ${spec.timeoutMs / 1000} s and was stopped`,
        { timeout: `${spec.timeoutMs / 1000}s`, pid: String(proc.pid) },
      );
    }
    if (spec.signal?.aborted) {
      throw new CoveError("aborted", "COMMAND_CANCELLED", `git ${what} was cancelled`);
    }
    if (truncated) {
      if (spec.stopAtLimit) return { exitCode: 0, stdout, stdoutTruncated: true, stderr };
      throw resourceExhausted(
        "PAYLOAD_TOO_LARGE",
        `git ${what} printed more than ${cap} bytes; ask for less`,
        { limit: String(cap) },
      );
    }
    const result = { exitCode: exit.exitCode, stdout, stdoutTruncated: false, stderr };
    if (exit.exitCode !== 0 && !spec.allowFailure) {
      const text = stderr.trim() !== "" ? stderr : scrubSecrets(stdout.toString("utf8"), secrets);
      throw gitError(what, exit.exitCode, text, spec.url);
    }
    return result;
  }

  /** close kills every running git command and waits for them to end. */
  async close(): Promise<void> {
    const all = [...this.running];
    for (const proc of all) proc.kill("SIGKILL");
    await Promise.all(all.map((p) => p.done));
  }
}

/**
 * gitError builds FAILED_PRECONDITION: GIT_AUTH_FAILED when the remote refused or asked for
 * credentials, GIT_FAILED otherwise; metadata holds the exit code and up to 8 KiB of output.
 * `text` must already be scrubbed.
 */
export function gitError(what: string, exitCode: number, text: string, url?: string): CoveError {
  const metadata: Record<string, string> = {
    exitCode: String(exitCode),
    stderr: tailBytes(text, MAX_STDERR_BYTES),
  };
  if (AUTH_FAILURE.test(text)) {
    if (url) metadata.url = urlWithoutCredentials(scrubSecrets(url, []));
    return failedPrecondition(
      "GIT_AUTH_FAILED",
      `git ${what}: the remote rejected the credentials (or needs some): ${summary(text)}`,
      metadata,
    );
  }
  return failedPrecondition(
    "GIT_FAILED",
    `git ${what} failed with exit code ${exitCode}: ${summary(text)}`,
    metadata,
  );
}

/** writeAskpass writes the askpass script to a fresh private directory owned by `user`. */
function writeAskpass(user: OsUser | undefined): string {
  const dir = makeScratchDir("cove-git-");
  const file = path.join(dir, "askpass.sh");
  fs.writeFileSync(file, ASKPASS_SCRIPT, { mode: 0o700 });
  if (user) {
    fs.chownSync(dir, user.uid, user.gid);
    fs.chownSync(file, user.uid, user.gid);
  }
  return dir;
}
