import * as fs from "node:fs";
import * as os from "node:os";
import { failedPrecondition, notFound } from "@cove/common";
import { resolvePath } from "./paths.js";
import type { OsUser, UserDirectory } from "./users.js";

// The daemon's one rule for "which user, which working directory, which environment", used by
// processes, sessions, PTYs, interpreters, git and the filesystem.

/** What the rule needs: the sandbox's accounts, its default user and that user's home. */
export interface RunAsRules {
  /** Looks accounts up by name or uid. */
  users: UserDirectory;
  /** The sandbox's default user (COVE_DAEMON_USER); undefined means the daemon's own. */
  defaultUser: string | undefined;
  /** The default user's home (COVE_DAEMON_HOME): where relative paths and empty cwds go. */
  home: string;
}

/** Who a request runs as and where its home is. */
export interface RunAs {
  /** The account to become; undefined keeps the daemon's own. */
  user: OsUser | undefined;
  /** The home: a named user's own, else the sandbox's (RunAsRules.home). */
  home: string;
}

/** PATH when the sandbox's environment has none. */
export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/** Cove's own variables, never passed to user code. */
const PRIVATE_ENV = /^COVE_/;

/**
 * runAs resolves a request's user: a name or decimal uid (INVALID_ARGUMENT naming `field` when
 * the sandbox has no such account), else the sandbox's default user, else the daemon's own.
 */
export function runAs(rules: RunAsRules, name = "", field = "user"): RunAs {
  if (name !== "") {
    const user = rules.users.lookup(name, field);
    return { user, home: user.home };
  }
  const user =
    rules.defaultUser === undefined ? undefined : rules.users.lookup(rules.defaultUser, field);
  return { user, home: rules.home };
}

/**
 * sandboxUser is the account a root daemon must become for filesystem calls: the default user,
 * unless the daemon is not root or that user is root itself.
 */
export function sandboxUser(rules: RunAsRules): OsUser | undefined {
  if (rules.defaultUser === undefined || process.getuid?.() !== 0) return undefined;
  const user = rules.users.lookup(rules.defaultUser, "user");
  return user.uid === 0 ? undefined : user;
}

/** ownAccount describes the daemon's own user, with `home` as its home (for USER, SHELL …). */
export function ownAccount(home: string): OsUser {
  const uid = process.getuid?.() ?? 0;
  try {
    const info = os.userInfo();
    return { name: info.username, uid, gid: info.gid, home, shell: info.shell || "/bin/sh" };
  } catch {
    return { name: String(uid), uid, gid: process.getgid?.() ?? uid, home, shell: "/bin/sh" };
  }
}

/** workingDirectory resolves a request's cwd against the home; empty means the home. */
export function workingDirectory(cwd: string, home: string): string {
  return cwd === "" ? home : resolvePath(cwd, home, "cwd");
}

/**
 * checkWorkingDirectory makes sure a working directory exists and is a directory:
 * NOT_FOUND (FILE_NOT_FOUND) or FAILED_PRECONDITION (NOT_A_DIRECTORY) otherwise.
 */
export function checkWorkingDirectory(dir: string): void {
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOTDIR") {
      throw notFound("FILE_NOT_FOUND", `working directory ${dir} does not exist`, {
        path: dir,
        cause: String((err as Error).message),
      });
    }
  }
  if (!stat?.isDirectory()) {
    throw failedPrecondition("NOT_A_DIRECTORY", `working directory ${dir} is not a directory`, {
      path: dir,
    });
  }
}

/**
 * userEnvironment is the environment user code starts from: the sandbox's, without Cove's own
 * variables (and whatever `drop` also names), PATH and LANG defaulted, and, for an account,
 * its HOME (`home`, or the account's), USER, LOGNAME and SHELL.
 */
export function userEnvironment(
  sandboxEnv: Record<string, string>,
  user: OsUser | undefined,
  options: { home?: string; drop?: RegExp } = {},
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(sandboxEnv)) {
    if (!PRIVATE_ENV.test(key) && !options.drop?.test(key)) env[key] = value;
  }
  env.PATH ??= DEFAULT_PATH;
  env.LANG ??= "C.UTF-8";
  if (user) {
    env.HOME = options.home ?? user.home;
    env.USER = user.name;
    env.LOGNAME = user.name;
    env.SHELL = user.shell;
  }
  return env;
}
