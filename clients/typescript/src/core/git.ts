// sandbox.git: a thin layer over GitService, with Daytona's method names and arguments.
import { GitFileState } from "@cove/gen-ts/cove/toolbox/v1/git_pb.js";
import { seconds, toDate } from "./convert.js";
import type { Toolbox } from "./toolbox.js";

/** Network operations (clone, push, pull) get this long by default (the daemon's default). */
const NETWORK_TIMEOUT_S = 600;

/** One changed path in git status. */
export interface GitFileStatus {
  /** name is the path relative to the repository root. */
  name: string;
  /** staging is the index state ("modified", "added", …, or "unmodified"). */
  staging: string;
  /** worktree is the work tree state. */
  worktree: string;
  /** originalPath is the source of a rename or copy, else "". */
  originalPath: string;
}

/** git status (Daytona's GitStatus). */
export interface GitStatus {
  /** currentBranch is the branch, or "" on a detached HEAD. */
  currentBranch: string;
  /** headSha is HEAD's hash. */
  headSha: string;
  /** upstream is e.g. "origin/main", or "". */
  upstream: string;
  /** ahead is the number of local commits not upstream. */
  ahead: number;
  /** behind is the number of upstream commits not local. */
  behind: number;
  /** branchPublished is true when the branch has an upstream. */
  branchPublished: boolean;
  /** fileStatus lists changed paths. */
  fileStatus: GitFileStatus[];
}

/** One commit of log(). */
export interface GitCommit {
  /** sha is the full hash. */
  sha: string;
  /** message is the full commit message. */
  message: string;
  /** author is the author's name. */
  author: string;
  /** email is the author's email. */
  email: string;
  /** timestamp is the author time. */
  timestamp: Date | undefined;
  /** parents are the parents' hashes (none for a root commit, two or more for a merge). */
  parents: string[];
}

function state(s: GitFileState): string {
  return s === GitFileState.UNSPECIFIED ? "unmodified" : GitFileState[s].toLowerCase();
}

function credentials(username?: string, password?: string) {
  return username === undefined && password === undefined
    ? undefined
    : { username: username ?? "", password: password ?? "" };
}

/** The git API of one sandbox (sandbox.git). */
export class Git {
  constructor(private readonly toolbox: Toolbox) {}

  /** clone clones url into path (Daytona's argument order). */
  async clone(
    url: string,
    path?: string,
    branch?: string,
    commitId?: string,
    username?: string,
    password?: string,
    options: { depth?: number; timeout?: number } = {},
  ): Promise<{ path: string; headSha: string }> {
    const t = options.timeout ?? NETWORK_TIMEOUT_S;
    const res = await this.toolbox.call({ idempotent: false, timeoutMs: t * 1000 + 15_000 }, (a) =>
      this.toolbox.git.clone(
        {
          url,
          path: path ?? "",
          branch: branch ?? "",
          commit: commitId ?? "",
          depth: options.depth ?? 0,
          credentials: credentials(username, password),
          timeout: seconds(t),
        },
        a,
      ),
    );
    return { path: res.path, headSha: res.headSha };
  }

  /**
   * init makes an empty repository at path (missing directories are created), its first branch
   * initialBranch (default "main"); in an existing repository it changes nothing and
   * `reinitialized` is true.
   */
  async init(
    path: string,
    options: { initialBranch?: string; bare?: boolean } = {},
  ): Promise<{ path: string; reinitialized: boolean }> {
    const res = await this.toolbox.call({ idempotent: true }, (a) =>
      this.toolbox.git.init(
        { path, initialBranch: options.initialBranch ?? "", bare: options.bare ?? false },
        a,
      ),
    );
    return { path: res.path, reinitialized: res.reinitialized };
  }

  /** log lists up to limit (default 50, at most 1000) commits reachable from ref (default HEAD), newest first. */
  async log(path: string, options: { ref?: string; limit?: number } = {}): Promise<GitCommit[]> {
    const res = await this.toolbox.call({ idempotent: true }, (a) =>
      this.toolbox.git.log({ path, ref: options.ref ?? "", limit: options.limit ?? 0 }, a),
    );
    return res.commits.map((c) => ({
      sha: c.sha,
      message: c.message,
      author: c.authorName,
      email: c.authorEmail,
      timestamp: toDate(c.authorTime),
      parents: c.parentShas,
    }));
  }

  /** status reports the branch, its distance to upstream and the changed paths. */
  async status(path: string): Promise<GitStatus> {
    const res = await this.toolbox.call({ idempotent: true }, (a) =>
      this.toolbox.git.status({ path }, a),
    );
    return {
      currentBranch: res.branch,
      headSha: res.headSha,
      upstream: res.upstream,
      ahead: res.ahead,
      behind: res.behind,
      branchPublished: res.upstream !== "",
      fileStatus: res.files.map((f) => ({
        name: f.path,
        staging: state(f.staged),
        worktree: state(f.unstaged),
        originalPath: f.originalPath,
      })),
    };
  }

  /** add stages files (relative to the repository root; "." for everything). */
  async add(path: string, files: string[]): Promise<void> {
    await this.toolbox.call({ idempotent: true }, (a) =>
      this.toolbox.git.add({ path, paths: files }, a),
    );
  }

  /** commit records the staged changes and returns the new commit's hash. */
  async commit(
    path: string,
    message: string,
    author?: string,
    email?: string,
    allowEmpty = false,
  ): Promise<{ sha: string }> {
    const res = await this.toolbox.call({ idempotent: false }, (a) =>
      this.toolbox.git.commit(
        { path, message, authorName: author ?? "", authorEmail: email ?? "", allowEmpty },
        a,
      ),
    );
    return { sha: res.sha };
  }

  /** push pushes the current branch to its upstream (or origin). */
  async push(
    path: string,
    username?: string,
    password?: string,
    options: {
      remote?: string;
      branch?: string;
      setUpstream?: boolean;
      force?: boolean;
      timeout?: number;
    } = {},
  ): Promise<void> {
    const t = options.timeout ?? NETWORK_TIMEOUT_S;
    await this.toolbox.call({ idempotent: false, timeoutMs: t * 1000 + 15_000 }, (a) =>
      this.toolbox.git.push(
        {
          path,
          remote: options.remote ?? "",
          branch: options.branch ?? "",
          setUpstream: options.setUpstream ?? false,
          force: options.force ?? false,
          credentials: credentials(username, password),
          timeout: seconds(t),
        },
        a,
      ),
    );
  }

  /** pull fetches and merges (or rebases) into the current branch; returns the new HEAD. */
  async pull(
    path: string,
    username?: string,
    password?: string,
    options: { remote?: string; branch?: string; rebase?: boolean; timeout?: number } = {},
  ): Promise<{ headSha: string }> {
    const t = options.timeout ?? NETWORK_TIMEOUT_S;
    const res = await this.toolbox.call({ idempotent: false, timeoutMs: t * 1000 + 15_000 }, (a) =>
      this.toolbox.git.pull(
        {
          path,
          remote: options.remote ?? "",
          branch: options.branch ?? "",
          rebase: options.rebase ?? false,
          credentials: credentials(username, password),
          timeout: seconds(t),
        },
        a,
      ),
    );
    return { headSha: res.headSha };
  }

  /** branches lists the local branch names (Daytona's ListBranchResponse). */
  async branches(
    path: string,
    includeRemote = false,
  ): Promise<{ branches: string[]; current: string }> {
    const res = await this.toolbox.call({ idempotent: true }, (a) =>
      this.toolbox.git.listBranches({ path, includeRemote }, a),
    );
    return {
      branches: res.branches.map((b) => b.name),
      current: res.branches.find((b) => b.current)?.name ?? "",
    };
  }

  /** createBranch creates a branch (at HEAD by default), optionally checking it out. */
  async createBranch(
    path: string,
    name: string,
    options: { startPoint?: string; checkout?: boolean } = {},
  ): Promise<void> {
    await this.toolbox.call({ idempotent: false }, (a) =>
      this.toolbox.git.createBranch(
        { path, name, startPoint: options.startPoint ?? "", checkout: options.checkout ?? false },
        a,
      ),
    );
  }

  /** deleteBranch deletes a local branch. */
  async deleteBranch(path: string, name: string, force = false): Promise<void> {
    await this.toolbox.call({ idempotent: false }, (a) =>
      this.toolbox.git.deleteBranch({ path, name, force }, a),
    );
  }

  /** checkoutBranch switches to a branch, tag or commit; returns the new HEAD. */
  async checkoutBranch(path: string, ref: string, force = false): Promise<{ headSha: string }> {
    const res = await this.toolbox.call({ idempotent: true }, (a) =>
      this.toolbox.git.checkout({ path, ref, force }, a),
    );
    return { headSha: res.headSha };
  }
}
