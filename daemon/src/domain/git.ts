import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { alreadyExists, failedPrecondition, invalidArgument, notFound } from "@cove/common";
import {
  BRANCH_FORMAT,
  type BranchInfo,
  type CommitInfo,
  LOG_FORMAT,
  parseBranches,
  parseLog,
  parseStatus,
  type RepoStatus,
} from "./git-parse.js";
import type { GitCredentials, GitRun, GitRunner } from "./git-runner.js";
import {
  repoNameFromUrl,
  validateBranch,
  validateCredentials,
  validateIdent,
  validatePathField,
  validatePathspec,
  validateRemote,
  validateRevision,
  validateUrl,
} from "./git-validate.js";
import { resolvePath } from "./paths.js";
import { type RunAs, type RunAsRules, runAs } from "./run-as.js";
import type { OsUser } from "./users.js";

/** Timeout of local operations (status, add, commit …), in ms. */
export const LOCAL_TIMEOUT_MS = 10 * 60_000;
/** Most changed paths Status returns. */
export const MAX_STATUS_FILES = 10_000;
/** Most paths one Add takes. */
export const MAX_ADD_PATHS = 10_000;
/** Default and largest Log limit. */
export const DEFAULT_LOG_LIMIT = 50;
export const MAX_LOG_LIMIT = 1000;
/** Largest commit message, in bytes. */
export const MAX_MESSAGE_BYTES = 1024 * 1024;

/** Settings for a clone: hooks never run (the repository is not trusted yet). */
const UNTRUSTED = ["core.hooksPath=/dev/null"];

/** Where GitRepositories finds users and homes (the daemon's run-as rule) and git. */
export interface GitOptions extends RunAsRules {
  /** Runs git. */
  runner: GitRunner;
  /** Largest log output accepted, in bytes (the response must fit in a message). */
  maxLogBytes: number;
}

/** A network operation's extras. */
export interface NetworkOptions {
  /** Credentials for HTTP(S), or undefined. */
  credentials: GitCredentials | undefined;
  /** Timeout in ms. */
  timeoutMs: number;
  /** Aborting stops git. */
  signal?: AbortSignal;
}

/** Clone's inputs. */
export interface CloneSpec extends NetworkOptions {
  /** Repository URL. */
  url: string;
  /** Target directory ("" derives one from the URL under the home). */
  path: string;
  /** Branch or tag to check out, or "". */
  branch: string;
  /** Commit to check out afterwards (detached), or "". */
  commit: string;
  /** Shallow depth, 0 for full history. */
  depth: number;
}

/** The first branch of a repository Init makes when the request names none. */
export const DEFAULT_INITIAL_BRANCH = "main";

/** Commit's inputs. */
export interface CommitSpec {
  /** Repository path. */
  path: string;
  /** Message. */
  message: string;
  /** Author and committer name, or "" for the configured one. */
  authorName: string;
  /** Author and committer email, or "" for the configured one. */
  authorEmail: string;
  /** Record a commit with no changes. */
  allowEmpty: boolean;
}

/**
 * GitRepositories implements GitService's operations on repositories inside the sandbox, as
 * the sandbox user: every input is validated before git sees it, and git only ever gets an
 * argv.
 */
export class GitRepositories {
  constructor(private readonly options: GitOptions) {}

  /** runAs is the sandbox's default user: git always runs as it. */
  private runAs(): RunAs {
    return runAs(this.options);
  }

  private git(
    cwd: string,
    user: OsUser | undefined,
    args: string[],
    extra: Partial<GitRun> = {},
  ): ReturnType<GitRunner["run"]> {
    return this.options.runner.run({ cwd, user, args, timeoutMs: LOCAL_TIMEOUT_MS, ...extra });
  }

  /** repo resolves and checks a repository path: NOT_FOUND if missing, FAILED_PRECONDITION if a file. */
  private repo(input: string): { dir: string; user: OsUser | undefined } {
    const { user, home } = this.runAs();
    validatePathField(input);
    const dir = resolvePath(input, home);
    let stat: fs.Stats;
    try {
      stat = fs.statSync(dir);
    } catch {
      throw notFound("FILE_NOT_FOUND", `${dir} does not exist`, { path: dir });
    }
    if (!stat.isDirectory()) {
      throw failedPrecondition("NOT_A_DIRECTORY", `${dir} is not a directory`, { path: dir });
    }
    return { dir, user };
  }

  private credentials(c: GitCredentials | undefined): GitCredentials | undefined {
    if (!c || (c.username === "" && c.password === "")) return undefined;
    validateCredentials(c.username, c.password);
    // Token-only credentials: most hosts accept any non-empty user name with a token.
    return { username: c.username || "x-access-token", password: c.password };
  }

  private async headSha(dir: string, user: OsUser | undefined): Promise<string> {
    const res = await this.git(dir, user, ["rev-parse", "--verify", "-q", "HEAD^{commit}"], {
      allowFailure: true,
    });
    return res.exitCode === 0 ? res.stdout.toString("utf8").trim() : "";
  }

  private async currentBranch(dir: string, user: OsUser | undefined): Promise<string> {
    const res = await this.git(dir, user, ["symbolic-ref", "--short", "-q", "HEAD"], {
      allowFailure: true,
    });
    return res.exitCode === 0 ? res.stdout.toString("utf8").trim() : "";
  }

  private async configValue(dir: string, user: OsUser | undefined, key: string): Promise<string> {
    const res = await this.git(dir, user, ["config", "--get", key], { allowFailure: true });
    return res.exitCode === 0 ? res.stdout.toString("utf8").trim() : "";
  }

  /** clone clones `url` and returns the new work tree and its HEAD; see CloneSpec. */
  async clone(spec: CloneSpec): Promise<{ path: string; headSha: string }> {
    const { user, home } = this.runAs();
    validateUrl(spec.url);
    validatePathField(spec.path);
    const git = this.options.runner.gitPath(user);
    if (spec.branch !== "") await validateBranch(git, spec.branch, "branch");
    if (spec.commit !== "" && !/^[0-9a-fA-F]{4,64}$/.test(spec.commit)) {
      throw invalidArgument("commit", "must be a full or abbreviated commit hash");
    }
    if (!Number.isInteger(spec.depth) || spec.depth < 0) {
      throw invalidArgument("depth", "must be 0 (full history) or a positive number of commits");
    }
    const credentials = this.credentials(spec.credentials);
    let target: string;
    if (spec.path === "") {
      const name = repoNameFromUrl(spec.url);
      if (!name)
        throw invalidArgument("path", "cannot derive a directory name from url; give path");
      target = path.join(home, name);
    } else {
      target = resolvePath(spec.path, home);
    }
    const existed = checkCloneTarget(target);
    const createdRoot = existed ? undefined : firstMissing(target);
    const cwd = fs.existsSync(home) ? home : "/";
    const network = {
      credentials,
      timeoutMs: spec.timeoutMs,
      signal: spec.signal,
      url: spec.url,
      config: UNTRUSTED,
    };
    try {
      const args = ["clone", "--no-recurse-submodules"];
      if (spec.branch !== "") args.push("--branch", spec.branch);
      if (spec.depth > 0) args.push("--depth", String(spec.depth));
      if (spec.commit !== "") args.push("--no-checkout");
      args.push("--", spec.url, target);
      await this.git(cwd, user, args, network);
      if (spec.commit !== "") {
        await this.git(target, user, ["checkout", "-q", "--detach", spec.commit, "--"], {
          config: UNTRUSTED,
          signal: spec.signal,
        });
      }
      return { path: target, headSha: await this.headSha(target, user) };
    } catch (err) {
      // A failed clone leaves nothing behind: what we created goes, an empty directory is emptied.
      if (createdRoot) fs.rmSync(createdRoot, { recursive: true, force: true });
      else emptyDirectory(target);
      throw err;
    }
  }

  /**
   * init makes an empty repository at `repoPath` (git creates the directory and missing
   * parents, as the sandbox user); an existing repository is left as it is and reported as
   * reinitialized. A file in the way is FAILED_PRECONDITION (NOT_A_DIRECTORY).
   */
  async init(
    repoPath: string,
    initialBranch: string,
    bare: boolean,
  ): Promise<{ path: string; reinitialized: boolean }> {
    const { user, home } = this.runAs();
    validatePathField(repoPath);
    const target = resolvePath(repoPath, home);
    const branch = initialBranch || DEFAULT_INITIAL_BRANCH;
    await validateBranch(this.options.runner.gitPath(user), branch, "initial_branch");
    let stat: fs.Stats | undefined;
    try {
      stat = fs.statSync(target);
    } catch {
      stat = undefined;
    }
    if (stat && !stat.isDirectory()) {
      throw failedPrecondition("NOT_A_DIRECTORY", `${target} exists and is not a directory`, {
        path: target,
      });
    }
    const cwd = fs.existsSync(home) ? home : "/";
    const args = ["init", `--initial-branch=${branch}`];
    if (bare) args.push("--bare");
    args.push("--", target);
    const res = await this.git(cwd, user, args);
    return {
      path: target,
      reinitialized: /^Reinitialized existing/m.test(res.stdout.toString("utf8")),
    };
  }

  /** status reports branch, upstream distance and changed paths (at most MAX_STATUS_FILES). */
  async status(repoPath: string, signal?: AbortSignal): Promise<RepoStatus> {
    const { dir, user } = this.repo(repoPath);
    const res = await this.git(
      dir,
      user,
      [
        "--no-optional-locks",
        "status",
        "--porcelain=v2",
        "--branch",
        "-z",
        "--untracked-files=normal",
      ],
      { signal, stopAtLimit: true },
    );
    return parseStatus(res.stdout.toString("utf8"), res.stdoutTruncated, MAX_STATUS_FILES);
  }

  /** listBranches lists local branches, then remote-tracking ones when asked, each by name. */
  async listBranches(repoPath: string, includeRemote: boolean): Promise<BranchInfo[]> {
    const { dir, user } = this.repo(repoPath);
    return this.branches(
      dir,
      user,
      includeRemote ? ["refs/heads", "refs/remotes"] : ["refs/heads"],
    );
  }

  private async branches(dir: string, user: OsUser | undefined, patterns: string[]) {
    // Fail like every other call outside a repository (for-each-ref alone would too).
    const res = await this.git(dir, user, [
      "for-each-ref",
      `--format=${BRANCH_FORMAT}`,
      "--sort=refname",
      ...patterns,
    ]);
    return parseBranches(res.stdout.toString("utf8"));
  }

  private async branchExists(dir: string, user: OsUser | undefined, name: string) {
    const res = await this.git(dir, user, ["show-ref", "--verify", "-q", `refs/heads/${name}`], {
      allowFailure: true,
    });
    if (res.exitCode !== 0 && res.exitCode !== 1) {
      // Not a repository, or worse: report it as git said.
      await this.git(dir, user, ["rev-parse", "--git-dir"]);
    }
    return res.exitCode === 0;
  }

  /** createBranch creates `name` at startPoint (default HEAD), optionally checking it out. */
  async createBranch(
    repoPath: string,
    name: string,
    startPoint: string,
    checkout: boolean,
  ): Promise<BranchInfo> {
    const { dir, user } = this.repo(repoPath);
    const git = this.options.runner.gitPath(user);
    await validateBranch(git, name, "name");
    if (startPoint !== "") await validateRevision(git, startPoint, "start_point");
    if (await this.branchExists(dir, user, name)) {
      throw alreadyExists("GIT_FAILED", `branch "${name}" already exists`, { branch: name });
    }
    const start = startPoint === "" ? [] : [startPoint];
    if (checkout) await this.git(dir, user, ["checkout", "-q", "-b", name, ...start, "--"]);
    else await this.git(dir, user, ["branch", "--end-of-options", name, ...start]);
    const found = (await this.branches(dir, user, [`refs/heads/${name}`])).find(
      (b) => b.name === name,
    );
    if (!found) throw failedPrecondition("GIT_FAILED", `branch "${name}" was not created`);
    return found;
  }

  /** deleteBranch deletes a local branch (force: even if not merged). */
  async deleteBranch(repoPath: string, name: string, force: boolean): Promise<void> {
    const { dir, user } = this.repo(repoPath);
    await validateBranch(this.options.runner.gitPath(user), name, "name");
    if (!(await this.branchExists(dir, user, name))) {
      throw notFound("GIT_FAILED", `there is no local branch "${name}"`, { branch: name });
    }
    await this.git(dir, user, ["branch", force ? "-D" : "-d", "--end-of-options", name]);
  }

  /** checkout switches to a branch, tag or commit and returns the new HEAD. */
  async checkout(repoPath: string, ref: string, force: boolean): Promise<string> {
    const { dir, user } = this.repo(repoPath);
    await validateRevision(this.options.runner.gitPath(user), ref, "ref");
    // "--" after the ref: it is never taken for a path, and a remote-only name still
    // creates a tracking branch.
    await this.git(dir, user, ["checkout", "-q", ...(force ? ["--force"] : []), ref, "--"]);
    return this.headSha(dir, user);
  }

  /** add stages paths (relative to the repository root; "." is everything), deletions included. */
  async add(repoPath: string, paths: string[]): Promise<void> {
    const { dir, user } = this.repo(repoPath);
    if (paths.length === 0) throw invalidArgument("paths", 'name at least one path (or ".")');
    if (paths.length > MAX_ADD_PATHS) {
      throw invalidArgument("paths", `at most ${MAX_ADD_PATHS} paths per call`);
    }
    paths.forEach((p, i) => {
      validatePathspec(p, `paths[${i}]`);
    });
    const top = (await this.git(dir, user, ["rev-parse", "--show-toplevel"])).stdout
      .toString("utf8")
      .trim();
    if (top === "") throw failedPrecondition("GIT_FAILED", `${dir} has no work tree`);
    // Paths go through stdin (no argv length limit) as literal pathspecs (no magic, no globs).
    await this.git(
      top,
      user,
      ["--literal-pathspecs", "add", "-A", "--pathspec-from-file=-", "--pathspec-file-nul"],
      { stdin: `${paths.join("\0")}\0` },
    );
  }

  /** commit records the staged changes and returns the new commit's hash. */
  async commit(spec: CommitSpec): Promise<string> {
    const { dir, user } = this.repo(spec.path);
    if (spec.message.trim() === "") throw invalidArgument("message", "must not be empty");
    if (spec.message.includes("\0")) throw invalidArgument("message", "must not contain NUL bytes");
    if (Buffer.byteLength(spec.message) > MAX_MESSAGE_BYTES) {
      throw invalidArgument("message", "must be at most 1 MiB");
    }
    validateIdent(spec.authorName, "author_name");
    validateIdent(spec.authorEmail, "author_email");
    const ident = await this.identity(dir, user, spec.authorName, spec.authorEmail);
    const env = {
      GIT_AUTHOR_NAME: ident.name,
      GIT_AUTHOR_EMAIL: ident.email,
      GIT_COMMITTER_NAME: ident.name,
      GIT_COMMITTER_EMAIL: ident.email,
    };
    const args = ["commit", "-q", "--file=-"];
    if (spec.allowEmpty) args.push("--allow-empty");
    await this.git(dir, user, args, { stdin: spec.message, env });
    return this.headSha(dir, user);
  }

  /**
   * identity picks the author: what the request gives, else what git would use (environment
   * or config), else the sandbox user's name at "cove.sandbox" so a fresh sandbox can commit.
   */
  private async identity(
    dir: string,
    user: OsUser | undefined,
    name: string,
    email: string,
  ): Promise<{ name: string; email: string }> {
    if (name !== "" && email !== "") return { name, email };
    const res = await this.git(dir, user, ["var", "GIT_AUTHOR_IDENT"], { allowFailure: true });
    const m = /^(.*) <(.*)> \d+ [+-]\d{4}$/.exec(res.stdout.toString("utf8").trim());
    if (res.exitCode === 0 && m) {
      return { name: name || (m[1] as string), email: email || (m[2] as string) };
    }
    if (res.exitCode !== 0) await this.git(dir, user, ["rev-parse", "--git-dir"]);
    const login = user?.name ?? (safeUserName() || "cove");
    return { name: name || login, email: email || `${login}@cove.sandbox` };
  }

  private async remoteFor(dir: string, user: OsUser | undefined, branch: string) {
    if (branch === "") return "origin";
    return (await this.configValue(dir, user, `branch.${branch}.remote`)) || "origin";
  }

  /** push pushes a local branch (default the current one) to a remote (default its upstream's). */
  async push(
    repoPath: string,
    req: { remote: string; branch: string; setUpstream: boolean; force: boolean },
    net: NetworkOptions,
  ): Promise<void> {
    const { dir, user } = this.repo(repoPath);
    const git = this.options.runner.gitPath(user);
    if (req.remote !== "") validateRemote(req.remote);
    if (req.branch !== "") await validateBranch(git, req.branch, "branch");
    const credentials = this.credentials(net.credentials);
    const branch = req.branch || (await this.currentBranch(dir, user));
    if (branch === "") {
      await this.git(dir, user, ["rev-parse", "--git-dir"]);
      throw failedPrecondition("GIT_FAILED", "HEAD is detached: name the branch to push");
    }
    const remote = req.remote || (await this.remoteFor(dir, user, branch));
    const args = ["push"];
    if (req.setUpstream) args.push("--set-upstream");
    if (req.force) args.push("--force-with-lease");
    args.push("--end-of-options", remote, `refs/heads/${branch}:refs/heads/${branch}`);
    await this.git(dir, user, args, {
      credentials,
      timeoutMs: net.timeoutMs,
      signal: net.signal,
      url: remote,
    });
  }

  /**
   * pull fetches and merges (or rebases) into the current branch; a failed merge or rebase is
   * aborted so the work tree is as before. Returns the new HEAD.
   */
  async pull(
    repoPath: string,
    req: { remote: string; branch: string; rebase: boolean },
    net: NetworkOptions,
  ): Promise<string> {
    const { dir, user } = this.repo(repoPath);
    const git = this.options.runner.gitPath(user);
    if (req.remote !== "") validateRemote(req.remote);
    if (req.branch !== "") await validateBranch(git, req.branch, "branch");
    const credentials = this.credentials(net.credentials);
    const target: string[] = [];
    if (req.remote !== "" || req.branch !== "") {
      const remote =
        req.remote || (await this.remoteFor(dir, user, await this.currentBranch(dir, user)));
      target.push(remote);
      if (req.branch !== "") target.push(req.branch);
    }
    const busyBefore = await this.operationInProgress(dir, user);
    try {
      await this.git(
        dir,
        user,
        [
          "pull",
          "--no-edit",
          req.rebase ? "--rebase" : "--no-rebase",
          "--end-of-options",
          ...target,
        ],
        { credentials, timeoutMs: net.timeoutMs, signal: net.signal, url: target[0] },
      );
    } catch (err) {
      if (!busyBefore && (await this.operationInProgress(dir, user).catch(() => false))) {
        await this.git(dir, user, [req.rebase ? "rebase" : "merge", "--abort"], {
          allowFailure: true,
        });
      }
      throw err;
    }
    return this.headSha(dir, user);
  }

  /** operationInProgress tells whether a merge or rebase is under way in the repository. */
  private async operationInProgress(dir: string, user: OsUser | undefined): Promise<boolean> {
    const res = await this.git(dir, user, [
      "rev-parse",
      "--git-path",
      "MERGE_HEAD",
      "--git-path",
      "rebase-merge",
      "--git-path",
      "rebase-apply",
    ]);
    return res.stdout
      .toString("utf8")
      .split("\n")
      .filter((l) => l !== "")
      .some((p) => fs.existsSync(path.resolve(dir, p)));
  }

  /** log lists up to `limit` commits reachable from ref (default HEAD), newest first. */
  async log(
    repoPath: string,
    ref: string,
    limit: number,
    signal?: AbortSignal,
  ): Promise<CommitInfo[]> {
    const { dir, user } = this.repo(repoPath);
    if (!Number.isInteger(limit) || limit < 0 || limit > MAX_LOG_LIMIT) {
      throw invalidArgument(
        "limit",
        `must be between 0 (default ${DEFAULT_LOG_LIMIT}) and ${MAX_LOG_LIMIT}`,
      );
    }
    if (ref !== "") await validateRevision(this.options.runner.gitPath(user), ref, "ref");
    else if ((await this.headSha(dir, user)) === "") {
      // No commits yet (or not a repository: let git say which).
      await this.git(dir, user, ["rev-parse", "--git-dir"]);
      return [];
    }
    const res = await this.git(
      dir,
      user,
      [
        "log",
        "-z",
        "--no-show-signature",
        "--encoding=UTF-8",
        `--format=${LOG_FORMAT}`,
        `--max-count=${limit || DEFAULT_LOG_LIMIT}`,
        "--end-of-options",
        ref || "HEAD",
        "--",
      ],
      { signal, maxStdoutBytes: this.options.maxLogBytes },
    );
    return parseLog(res.stdout.toString("utf8"));
  }
}

/**
 * checkCloneTarget returns whether the target exists (as an empty directory); a file or a
 * non-empty directory is ALREADY_EXISTS (FILE_EXISTS).
 */
function checkCloneTarget(target: string): boolean {
  let stat: fs.Stats;
  try {
    stat = fs.lstatSync(target);
  } catch {
    return false;
  }
  if (!stat.isDirectory() || fs.readdirSync(target).length > 0) {
    throw alreadyExists("FILE_EXISTS", `${target} exists and is not an empty directory`, {
      path: target,
    });
  }
  return true;
}

/** firstMissing returns the topmost ancestor of `target` (or itself) that does not exist yet. */
function firstMissing(target: string): string {
  let missing = target;
  for (let dir = path.dirname(target); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (fs.existsSync(dir)) break;
    missing = dir;
  }
  return missing;
}

function safeUserName(): string {
  try {
    return os.userInfo().username;
  } catch {
    return "";
  }
}

function emptyDirectory(dir: string): void {
  try {
    for (const entry of fs.readdirSync(dir)) {
      fs.rmSync(path.join(dir, entry), { recursive: true, force: true });
    }
  } catch {
    // gone already
  }
}
