import type { Duration } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { invalidArgument } from "@cove/common";
import { type GitCredentials, GitFileState } from "@cove/gen-ts/cove/toolbox/v1/git_pb.js";
import {
  type AddRequest,
  type CheckoutRequest,
  type CloneRequest,
  type CommitRequest,
  type CreateBranchRequest,
  type DeleteBranchRequest,
  GitService,
  type InitRequest,
  type ListBranchesRequest,
  type LogRequest,
  type PullRequest,
  type PushRequest,
  type StatusRequest,
} from "@cove/gen-ts/cove/toolbox/v1/git_service_pb.js";
import type { DaemonContext, ServiceModule } from "../context.js";
import { GitRepositories } from "../domain/git.js";
import type { BranchInfo, FileState } from "../domain/git-parse.js";
import { GitRunner } from "../domain/git-runner.js";
import { readSandboxEnv } from "../domain/process-manager.js";
import { timestamp } from "./convert.js";

/** Default timeout of Clone, Push and Pull, in ms. */
const DEFAULT_NETWORK_TIMEOUT_MS = 10 * 60_000;
/** Longest timeout of Clone, Push and Pull, in ms. */
const MAX_NETWORK_TIMEOUT_MS = 60 * 60_000;

const fileStates: Record<FileState, GitFileState> = {
  unmodified: GitFileState.UNSPECIFIED,
  modified: GitFileState.MODIFIED,
  added: GitFileState.ADDED,
  deleted: GitFileState.DELETED,
  renamed: GitFileState.RENAMED,
  copied: GitFileState.COPIED,
  typeChanged: GitFileState.TYPE_CHANGED,
  untracked: GitFileState.UNTRACKED,
  conflicted: GitFileState.CONFLICTED,
};

/** networkTimeout reads Clone/Push/Pull's timeout: unset or zero is 10 minutes, at most 1 hour. */
function networkTimeout(duration: Duration | undefined): number {
  if (duration === undefined) return DEFAULT_NETWORK_TIMEOUT_MS;
  const ms = Number(duration.seconds) * 1000 + Math.floor(duration.nanos / 1e6);
  if (ms < 0) throw invalidArgument("timeout", "must not be negative");
  if (ms > MAX_NETWORK_TIMEOUT_MS) throw invalidArgument("timeout", "must be at most 1 hour");
  return ms === 0 ? DEFAULT_NETWORK_TIMEOUT_MS : ms;
}

function credentials(c: GitCredentials | undefined) {
  return c ? { username: c.username, password: c.password } : undefined;
}

function branch(b: BranchInfo) {
  return {
    name: b.name,
    remote: b.remote,
    current: b.current,
    commitSha: b.commitSha,
    upstream: b.upstream,
  };
}

/** GitHandler implements GitService over GitRepositories. */
export class GitHandler implements ServiceImpl<typeof GitService> {
  constructor(private readonly git: GitRepositories) {}

  async clone(req: CloneRequest, ctx: { signal: AbortSignal }) {
    return this.git.clone({
      url: req.url,
      path: req.path,
      branch: req.branch,
      commit: req.commit,
      depth: req.depth,
      credentials: credentials(req.credentials),
      timeoutMs: networkTimeout(req.timeout),
      signal: ctx.signal,
    });
  }

  async init(req: InitRequest) {
    return this.git.init(req.path, req.initialBranch, req.bare);
  }

  async status(req: StatusRequest, ctx: { signal: AbortSignal }) {
    const s = await this.git.status(req.path, ctx.signal);
    return {
      ...s,
      files: s.files.map((f) => ({
        path: f.path,
        originalPath: f.originalPath,
        staged: fileStates[f.staged],
        unstaged: fileStates[f.unstaged],
      })),
    };
  }

  async listBranches(req: ListBranchesRequest) {
    return { branches: (await this.git.listBranches(req.path, req.includeRemote)).map(branch) };
  }

  async createBranch(req: CreateBranchRequest) {
    return {
      branch: branch(await this.git.createBranch(req.path, req.name, req.startPoint, req.checkout)),
    };
  }

  async deleteBranch(req: DeleteBranchRequest) {
    await this.git.deleteBranch(req.path, req.name, req.force);
    return {};
  }

  async checkout(req: CheckoutRequest) {
    return { headSha: await this.git.checkout(req.path, req.ref, req.force) };
  }

  async add(req: AddRequest) {
    await this.git.add(req.path, req.paths);
    return {};
  }

  async commit(req: CommitRequest) {
    return {
      sha: await this.git.commit({
        path: req.path,
        message: req.message,
        authorName: req.authorName,
        authorEmail: req.authorEmail,
        allowEmpty: req.allowEmpty,
      }),
    };
  }

  async push(req: PushRequest, ctx: { signal: AbortSignal }) {
    await this.git.push(
      req.path,
      { remote: req.remote, branch: req.branch, setUpstream: req.setUpstream, force: req.force },
      {
        credentials: credentials(req.credentials),
        timeoutMs: networkTimeout(req.timeout),
        signal: ctx.signal,
      },
    );
    return {};
  }

  async pull(req: PullRequest, ctx: { signal: AbortSignal }) {
    const headSha = await this.git.pull(
      req.path,
      { remote: req.remote, branch: req.branch, rebase: req.rebase },
      {
        credentials: credentials(req.credentials),
        timeoutMs: networkTimeout(req.timeout),
        signal: ctx.signal,
      },
    );
    return { headSha };
  }

  async log(req: LogRequest, ctx: { signal: AbortSignal }) {
    const commits = await this.git.log(req.path, req.ref, req.limit, ctx.signal);
    return {
      commits: commits.map((c) => ({
        sha: c.sha,
        message: c.message,
        authorName: c.authorName,
        authorEmail: c.authorEmail,
        authorTime: timestamp(c.authorTime),
        parentShas: c.parentShas,
      })),
    };
  }
}

/** createGitModule mounts GitService; close() stops every running git command. */
export function createGitModule(ctx: DaemonContext): ServiceModule {
  const runner = new GitRunner(readSandboxEnv(ctx.config.sandboxEnvFile), ctx.config.initPath);
  const repositories = new GitRepositories({
    home: ctx.config.home,
    defaultUser: ctx.config.defaultUser,
    users: ctx.users,
    runner,
    // Room for the response's framing next to the commits themselves.
    maxLogBytes: Math.max(1024 * 1024, ctx.config.limits.maxMessageBytes - 64 * 1024),
  });
  return {
    service: GitService,
    impl: new GitHandler(repositories),
    close: () => runner.close(),
  };
}
