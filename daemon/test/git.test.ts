import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { GitFileState } from "@cove/gen-ts/cove/toolbox/v1/git_pb.js";
import { GitService } from "@cove/gen-ts/cove/toolbox/v1/git_service_pb.js";
import { ErrorInfoSchema } from "@cove/gen-ts/google/rpc/error_details_pb.js";
import { scrubSecrets } from "../src/domain/git-runner.js";
import { startTestDaemon, type TestDaemon } from "./harness.js";

const SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

let daemon: TestDaemon;
let client: ReturnType<typeof clientOf>;
const clientOf = (d: TestDaemon) => d.client(GitService);

/** A scratch folder outside the daemon's home: the "remote" side and git's own HOME. */
let scratch: string;
let gitHome: string;
let remote: string;
let remoteUrl: string;
let marker: string;

const gitEnv = () => ({
  PATH: SYSTEM_PATH,
  HOME: gitHome,
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_AUTHOR_NAME: "Seeder",
  GIT_AUTHOR_EMAIL: "seed@example.com",
  GIT_COMMITTER_NAME: "Seeder",
  GIT_COMMITTER_EMAIL: "seed@example.com",
});

/** git runs git in the test (not through the daemon) and returns its trimmed stdout. */
function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, { cwd, env: gitEnv(), encoding: "utf8" }).trim();
}

/** failure awaits a call that must fail and returns its error. */
async function failure(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (err) {
    return ConnectError.from(err);
  }
  throw new Error("expected the call to fail");
}

/** info returns the google.rpc.ErrorInfo reason and metadata of a failed call. */
function info(err: ConnectError): { reason: string; metadata: Record<string, string> } {
  const detail = err.findDetails(ErrorInfoSchema)[0];
  return { reason: detail?.reason ?? "", metadata: detail?.metadata ?? {} };
}

const seconds = (s: number) => ({ seconds: BigInt(Math.floor(s)), nanos: 0 });

beforeAll(async () => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), "cove-git-test-"));
  gitHome = path.join(scratch, "git-home");
  fs.mkdirSync(gitHome);
  marker = path.join(scratch, "pwned");
  // The daemon's sandbox environment: a HOME of our own, so the host's ~/.gitconfig is not used.
  const envFile = path.join(scratch, "sandbox.env");
  fs.writeFileSync(envFile, `PATH=${SYSTEM_PATH}\0HOME=${gitHome}\0GIT_CONFIG_NOSYSTEM=1\0`);
  daemon = await startTestDaemon({ sandboxEnvFile: envFile });
  client = clientOf(daemon);

  // A bare "remote" with two commits on main and one more on dev.
  remote = path.join(scratch, "remote.git");
  git(scratch, "init", "-q", "--bare", "-b", "main", remote);
  const seed = path.join(scratch, "seed");
  git(scratch, "init", "-q", "-b", "main", seed);
  fs.writeFileSync(path.join(seed, "README.md"), "hello\n");
  fs.writeFileSync(path.join(seed, "tracked.txt"), "one\n");
  git(seed, "add", "-A");
  git(seed, "commit", "-q", "-m", "first");
  fs.writeFileSync(path.join(seed, "tracked.txt"), "one\ntwo\n");
  git(seed, "commit", "-q", "-am", "second");
  git(seed, "checkout", "-q", "-b", "dev");
  fs.writeFileSync(path.join(seed, "dev.txt"), "dev\n");
  git(seed, "add", "dev.txt");
  git(seed, "commit", "-q", "-m", "dev work");
  git(seed, "push", "-q", remote, "main", "dev");
  remoteUrl = `file://${remote}`;
});

afterAll(async () => {
  await daemon?.close();
  fs.rmSync(scratch, { recursive: true, force: true });
});

describe("Clone", () => {
  test("clones a file:// URL into the home and reports the path and HEAD", async () => {
    const res = await client.clone({ url: remoteUrl, path: "work" });
    expect(res.path).toBe(path.join(daemon.home, "work"));
    expect(res.headSha).toBe(git(remote, "rev-parse", "main"));
    expect(fs.readFileSync(path.join(res.path, "tracked.txt"), "utf8")).toBe("one\ntwo\n");
  });

  test("derives the directory from the URL when path is empty, and clones plain paths", async () => {
    const res = await client.clone({ url: remote });
    expect(res.path).toBe(path.join(daemon.home, "remote"));
    expect(git(res.path, "remote", "get-url", "origin")).toBe(remote);
  });

  test("makes a shallow clone of a branch", async () => {
    const res = await client.clone({ url: remoteUrl, path: "shallow", branch: "dev", depth: 1 });
    expect(res.headSha).toBe(git(remote, "rev-parse", "dev"));
    const log = await client.log({ path: "shallow" });
    expect(log.commits.map((c) => c.message.trim())).toEqual(["dev work"]);
    expect((await client.status({ path: "shallow" })).branch).toBe("dev");
  });

  test("checks out a commit, leaving a detached HEAD", async () => {
    const first = git(remote, "rev-parse", "main~1");
    const res = await client.clone({
      url: remoteUrl,
      path: "at-commit",
      commit: first.slice(0, 10),
    });
    expect(res.headSha).toBe(first);
    const status = await client.status({ path: "at-commit" });
    expect([status.branch, status.headSha]).toEqual(["", first]);
  });

  test("refuses a non-empty target and removes what a failed clone created", async () => {
    fs.mkdirSync(path.join(daemon.home, "taken"));
    fs.writeFileSync(path.join(daemon.home, "taken", "x"), "x");
    const taken = await failure(client.clone({ url: remoteUrl, path: "taken" }));
    expect(taken.code).toBe(Code.AlreadyExists);
    expect(info(taken).reason).toBe("FILE_EXISTS");

    const failed = await failure(
      client.clone({ url: `file://${scratch}/missing.git`, path: "deep/nested/clone" }),
    );
    expect(failed.code).toBe(Code.FailedPrecondition);
    expect(info(failed).reason).toBe("GIT_FAILED");
    expect(Number(info(failed).metadata.exitCode)).toBeGreaterThan(0);
    expect(info(failed).metadata.stderr).toMatch(/does not exist|not found|not appear/);
    expect(fs.existsSync(path.join(daemon.home, "deep"))).toBe(false);

    const badCommit = await failure(
      client.clone({ url: remoteUrl, path: "bad-commit", commit: "0000000000" }),
    );
    expect(badCommit.code).toBe(Code.FailedPrecondition);
    expect(fs.existsSync(path.join(daemon.home, "bad-commit"))).toBe(false);
  });
});

describe("working with a clone", () => {
  let work: string;
  beforeAll(async () => {
    work = (await client.clone({ url: remoteUrl, path: "repo" })).path;
  });

  test("Status shows the branch, upstream and staged, unstaged and untracked paths", async () => {
    fs.writeFileSync(path.join(work, "tracked.txt"), "changed\n");
    fs.writeFileSync(path.join(work, "new.txt"), "new\n");
    fs.writeFileSync(path.join(work, "untracked.txt"), "u\n");
    fs.rmSync(path.join(work, "README.md"));
    await client.add({ path: work, paths: ["new.txt"] });
    const status = await client.status({ path: "repo" });
    expect(status).toMatchObject({
      branch: "main",
      headSha: git(remote, "rev-parse", "main"),
      upstream: "origin/main",
      ahead: 0,
      behind: 0,
      filesTruncated: false,
    });
    const files = Object.fromEntries(
      status.files.map((f) => [f.path, [GitFileState[f.staged], GitFileState[f.unstaged]]]),
    );
    expect(files).toEqual({
      "new.txt": ["ADDED", "UNSPECIFIED"],
      "tracked.txt": ["UNSPECIFIED", "MODIFIED"],
      "README.md": ["UNSPECIFIED", "DELETED"],
      "untracked.txt": ["UNSPECIFIED", "UNTRACKED"],
    });
  });

  test('Add stages everything with ".", from any directory of the repository', async () => {
    fs.mkdirSync(path.join(work, "sub"));
    fs.writeFileSync(path.join(work, "sub", "deep.txt"), "deep\n");
    await client.add({ path: path.join(work, "sub"), paths: ["."] });
    const status = await client.status({ path: work });
    expect(status.files.every((f) => f.unstaged === GitFileState.UNSPECIFIED)).toBe(true);
    expect(status.files.find((f) => f.path === "README.md")?.staged).toBe(GitFileState.DELETED);
    expect(status.files.find((f) => f.path === "sub/deep.txt")?.staged).toBe(GitFileState.ADDED);

    const missing = await failure(client.add({ path: work, paths: ["no-such-file"] }));
    expect([missing.code, info(missing).reason]).toEqual([Code.FailedPrecondition, "GIT_FAILED"]);
    const none = await failure(client.add({ path: work, paths: [] }));
    expect(none.code).toBe(Code.InvalidArgument);
  });

  test("Commit returns the new hash with the author given, then Status is ahead", async () => {
    const res = await client.commit({
      path: work,
      message: "Change things\n\nWith a body.",
      authorName: "Ada Lovelace",
      authorEmail: "ada@example.com",
    });
    expect(res.sha).toMatch(/^[0-9a-f]{40}$/);
    expect(git(work, "rev-parse", "HEAD")).toBe(res.sha);
    expect(git(work, "log", "-1", "--format=%an <%ae>|%cn <%ce>")).toBe(
      "Ada Lovelace <ada@example.com>|Ada Lovelace <ada@example.com>",
    );
    const status = await client.status({ path: work });
    expect([status.ahead, status.behind, status.headSha]).toEqual([1, 0, res.sha]);
    expect(status.files).toEqual([]);
  });

  test("Commit without an author uses a default; empty commits need allow_empty", async () => {
    const nothing = await failure(client.commit({ path: work, message: "nothing" }));
    expect([nothing.code, info(nothing).reason]).toEqual([Code.FailedPrecondition, "GIT_FAILED"]);
    expect(info(nothing).metadata.stderr).toMatch(/nothing to commit/);
    const empty = await client.commit({ path: work, message: "empty", allowEmpty: true });
    expect(git(work, "log", "-1", "--format=%an <%ae>")).toBe(
      `${os.userInfo().username} <${os.userInfo().username}@cove.sandbox>`,
    );
    expect(git(work, "rev-parse", "HEAD")).toBe(empty.sha);
    const blank = await failure(client.commit({ path: work, message: "  \n" }));
    expect(blank.code).toBe(Code.InvalidArgument);
    const badAuthor = await failure(
      client.commit({ path: work, message: "x", authorName: "Eve <evil>", allowEmpty: true }),
    );
    expect(badAuthor.code).toBe(Code.InvalidArgument);
  });

  test("Log lists commits newest first with authors, parents and times", async () => {
    const log = await client.log({ path: work });
    expect(log.commits.map((c) => c.message.trim())).toEqual([
      "empty",
      "Change things\n\nWith a body.",
      "second",
      "first",
    ]);
    const [newest, , second, first] = log.commits;
    expect(newest?.parentShas).toEqual([log.commits[1]?.sha]);
    expect(first?.parentShas).toEqual([]);
    expect(second?.authorName).toBe("Seeder");
    expect(second?.authorEmail).toBe("seed@example.com");
    const seconds = Number(second?.authorTime?.seconds);
    expect(Math.abs(seconds * 1000 - Date.now())).toBeLessThan(10 * 60_000);
    expect((await client.log({ path: work, limit: 1 })).commits).toHaveLength(1);
    expect((await client.log({ path: work, ref: "HEAD~2" })).commits[0]?.message.trim()).toBe(
      "second",
    );
    expect((await failure(client.log({ path: work, limit: 1001 }))).code).toBe(
      Code.InvalidArgument,
    );
    const unknown = await failure(client.log({ path: work, ref: "no-such-branch" }));
    expect([unknown.code, info(unknown).reason]).toEqual([Code.FailedPrecondition, "GIT_FAILED"]);
  });

  test("branches are created, checked out, listed and deleted", async () => {
    const feature = await client.createBranch({ path: work, name: "feature/one" });
    expect(feature.branch).toMatchObject({ name: "feature/one", current: false, remote: false });
    expect(feature.branch?.commitSha).toBe(git(work, "rev-parse", "HEAD"));
    const exists = await failure(client.createBranch({ path: work, name: "feature/one" }));
    expect(exists.code).toBe(Code.AlreadyExists);

    const other = await client.createBranch({
      path: work,
      name: "other",
      startPoint: "HEAD~1",
      checkout: true,
    });
    expect(other.branch?.current).toBe(true);
    expect((await client.status({ path: work })).branch).toBe("other");

    const local = await client.listBranches({ path: work });
    expect(local.branches.map((b) => [b.name, b.current, b.remote])).toEqual([
      ["feature/one", false, false],
      ["main", false, false],
      ["other", true, false],
    ]);
    expect(local.branches.find((b) => b.name === "main")?.upstream).toBe("origin/main");
    const all = await client.listBranches({ path: work, includeRemote: true });
    expect(all.branches.filter((b) => b.remote).map((b) => b.name)).toEqual([
      "origin/dev",
      "origin/main",
    ]);

    const checkedOut = await failure(client.deleteBranch({ path: work, name: "other" }));
    expect([checkedOut.code, info(checkedOut).reason]).toEqual([
      Code.FailedPrecondition,
      "GIT_FAILED",
    ]);
    const back = await client.checkout({ path: work, ref: "main" });
    expect(back.headSha).toBe(git(work, "rev-parse", "main"));
    await client.deleteBranch({ path: work, name: "other", force: true });
    await client.deleteBranch({ path: work, name: "feature/one" });
    const missing = await failure(client.deleteBranch({ path: work, name: "other" }));
    expect(missing.code).toBe(Code.NotFound);

    // A remote-only name creates a tracking branch.
    await client.checkout({ path: work, ref: "dev" });
    const status = await client.status({ path: work });
    expect([status.branch, status.upstream]).toEqual(["dev", "origin/dev"]);
    // Local changes block a checkout unless forced.
    fs.writeFileSync(path.join(work, "dev.txt"), "local edit\n");
    const blocked = await failure(client.checkout({ path: work, ref: "main" }));
    expect([blocked.code, info(blocked).reason]).toEqual([Code.FailedPrecondition, "GIT_FAILED"]);
    await client.checkout({ path: work, ref: "main", force: true });
    expect((await client.status({ path: work })).branch).toBe("main");
  });

  test("Push reaches the bare remote, a second clone sees it, and Pull brings changes back", async () => {
    await client.push({ path: work });
    expect(git(remote, "rev-parse", "main")).toBe(git(work, "rev-parse", "HEAD"));
    expect((await client.status({ path: work })).ahead).toBe(0);

    const second = (await client.clone({ url: remoteUrl, path: "second" })).path;
    expect((await client.log({ path: second, limit: 1 })).commits[0]?.message.trim()).toBe("empty");
    fs.writeFileSync(path.join(second, "from-second.txt"), "2\n");
    await client.add({ path: second, paths: ["from-second.txt"] });
    const pushed = await client.commit({
      path: second,
      message: "from second",
      authorName: "B",
      authorEmail: "b@example.com",
    });
    await client.push({ path: second, remote: "origin", branch: "main" });

    const pulled = await client.pull({ path: work });
    expect(pulled.headSha).toBe(pushed.sha);
    expect(fs.existsSync(path.join(work, "from-second.txt"))).toBe(true);

    // A new branch with set_upstream.
    await client.createBranch({ path: work, name: "topic", checkout: true });
    await client.push({ path: work, setUpstream: true });
    expect(git(remote, "rev-parse", "topic")).toBe(pushed.sha);
    expect((await client.status({ path: work })).upstream).toBe("origin/topic");
    await client.checkout({ path: work, ref: "main" });
  });

  test("a rejected push and a conflicting pull are GIT_FAILED, and the pull leaves no merge behind", async () => {
    const second = path.join(daemon.home, "second");
    fs.writeFileSync(path.join(second, "tracked.txt"), "theirs\n");
    await client.add({ path: second, paths: ["tracked.txt"] });
    await client.commit({ path: second, message: "theirs", authorName: "B", authorEmail: "b@x" });
    await client.push({ path: second });

    fs.writeFileSync(path.join(work, "tracked.txt"), "ours\n");
    await client.add({ path: work, paths: ["tracked.txt"] });
    const ours = await client.commit({
      path: work,
      message: "ours",
      authorName: "A",
      authorEmail: "a@x",
    });
    const rejected = await failure(client.push({ path: work }));
    expect([rejected.code, info(rejected).reason]).toEqual([Code.FailedPrecondition, "GIT_FAILED"]);
    expect(info(rejected).metadata.stderr).toMatch(/rejected/);

    const conflict = await failure(client.pull({ path: work }));
    expect([conflict.code, info(conflict).reason]).toEqual([Code.FailedPrecondition, "GIT_FAILED"]);
    expect(fs.existsSync(path.join(work, ".git", "MERGE_HEAD"))).toBe(false);
    expect(fs.readFileSync(path.join(work, "tracked.txt"), "utf8")).toBe("ours\n");
    const status = await client.status({ path: work });
    expect([status.headSha, status.files]).toEqual([ours.sha, []]);

    const rebase = await failure(client.pull({ path: work, rebase: true }));
    expect(rebase.code).toBe(Code.FailedPrecondition);
    expect(fs.existsSync(path.join(work, ".git", "rebase-merge"))).toBe(false);
    expect((await client.status({ path: work })).branch).toBe("main");

    // force (with lease) overwrites the remote branch.
    await client.push({ path: work, force: true });
    expect(git(remote, "rev-parse", "main")).toBe(ours.sha);
  });
});

describe("paths", () => {
  test("a missing path is NOT_FOUND and a directory outside a repository GIT_FAILED", async () => {
    const missing = await failure(client.status({ path: "no-such-dir" }));
    expect([missing.code, info(missing).reason]).toEqual([Code.NotFound, "FILE_NOT_FOUND"]);
    fs.mkdirSync(path.join(daemon.home, "plain"));
    const plain = await failure(client.status({ path: "plain" }));
    expect([plain.code, info(plain).reason]).toEqual([Code.FailedPrecondition, "GIT_FAILED"]);
    expect(plain.message).toMatch(/not a git repository/);
    const empty = await failure(client.status({ path: "" }));
    expect(empty.code).toBe(Code.InvalidArgument);
  });

  test("a repository without commits has an empty log and an empty head", async () => {
    const fresh = path.join(daemon.home, "fresh");
    git(daemon.home, "init", "-q", "-b", "main", fresh);
    expect((await client.log({ path: fresh })).commits).toEqual([]);
    const status = await client.status({ path: fresh });
    expect([status.branch, status.headSha]).toEqual(["main", ""]);
  });
});

describe("Init", () => {
  test("makes a repository with missing parents on main, then commits and logs work in it", async () => {
    const res = await client.init({ path: "projects/new/app" });
    const dir = path.join(daemon.home, "projects/new/app");
    expect(res).toMatchObject({ path: dir, reinitialized: false });
    expect(git(dir, "symbolic-ref", "--short", "HEAD")).toBe("main");
    fs.writeFileSync(path.join(dir, "a.txt"), "a\n");
    await client.add({ path: dir, paths: ["."] });
    const { sha } = await client.commit({
      path: dir,
      message: "first",
      authorName: "A",
      authorEmail: "a@example.com",
    });
    const log = await client.log({ path: dir });
    expect(log.commits.map((c) => [c.sha, c.message.trim()])).toEqual([[sha, "first"]]);
    // Again: nothing changes, and it says so.
    const again = await client.init({ path: dir, initialBranch: "other" });
    expect(again.reinitialized).toBe(true);
    expect((await client.log({ path: dir })).commits).toHaveLength(1);
  });

  test("a bare repository has no work tree and starts on the named branch", async () => {
    const res = await client.init({ path: "bare.git", bare: true, initialBranch: "trunk" });
    expect(fs.existsSync(path.join(res.path, "HEAD"))).toBe(true);
    expect(fs.readFileSync(path.join(res.path, "HEAD"), "utf8").trim()).toBe(
      "ref: refs/heads/trunk",
    );
    expect(fs.existsSync(path.join(res.path, ".git"))).toBe(false);
  });

  test("bad input is refused and runs nothing", async () => {
    fs.writeFileSync(path.join(daemon.home, "a-file"), "x");
    const file = await failure(client.init({ path: "a-file" }));
    expect([file.code, info(file).reason]).toEqual([Code.FailedPrecondition, "NOT_A_DIRECTORY"]);
    const empty = await failure(client.init({ path: "" }));
    expect([empty.code, info(empty).reason]).toEqual([Code.InvalidArgument, "INVALID_FIELD"]);
    const dash = await failure(client.init({ path: "--template=/tmp/evil" }));
    expect([dash.code, info(dash).reason]).toEqual([Code.InvalidArgument, "INVALID_FIELD"]);
    for (const initialBranch of ["-b", "a..b", "x y", "--bare"]) {
      const bad = await failure(client.init({ path: "never-made", initialBranch }));
      expect([bad.code, info(bad).reason]).toEqual([Code.InvalidArgument, "INVALID_FIELD"]);
    }
    expect(fs.existsSync(path.join(daemon.home, "never-made"))).toBe(false);
    expect(fs.existsSync(path.join(daemon.home, "--template=/tmp/evil"))).toBe(false);
  });
});

describe("Status details", () => {
  test("renames keep their original path, and paths with spaces survive", async () => {
    const repo = path.join(daemon.home, "renames");
    git(daemon.home, "init", "-q", "-b", "main", repo);
    fs.writeFileSync(path.join(repo, "a b.txt"), "some content that is long enough\n");
    git(repo, "add", "-A");
    git(repo, "commit", "-q", "-m", "one");
    fs.renameSync(path.join(repo, "a b.txt"), path.join(repo, "c d.txt"));
    await client.add({ path: repo, paths: ["."] });
    const status = await client.status({ path: repo });
    expect(status.files.map((f) => [f.path, f.originalPath, GitFileState[f.staged]])).toEqual([
      ["c d.txt", "a b.txt", "RENAMED"],
    ]);
  });

  test("more than 10000 changed paths are cut at 10000 and marked truncated", async () => {
    const repo = path.join(daemon.home, "many");
    git(daemon.home, "init", "-q", "-b", "main", repo);
    for (let i = 0; i < 10_005; i++) fs.writeFileSync(path.join(repo, `f${i}`), "");
    const status = await client.status({ path: repo });
    expect(status.files).toHaveLength(10_000);
    expect(status.filesTruncated).toBe(true);
    expect(status.branch).toBe("main");
  });
});

describe("injection", () => {
  const invalid = async (call: Promise<unknown>) => {
    const err = await failure(call);
    expect(err.code).toBe(Code.InvalidArgument);
    expect(info(err).reason).toBe("INVALID_FIELD");
  };

  test("URLs that smuggle options or transports are INVALID_ARGUMENT and run nothing", async () => {
    const urls = [
      `--upload-pack=touch ${marker}`,
      `-oProxyCommand=touch ${marker}`,
      `ssh://-oProxyCommand=touch%20${marker}/repo`,
      `ssh://-oProxyCommand=x@host/repo`,
      `ext::sh -c touch% ${marker}`,
      "fd::17",
      `transport::${remote}`,
      `-u@host:repo`,
      "user@-oProxyCommand=x:repo",
      "ftp://example.com/repo.git",
      "relative-without-dot",
    ];
    for (const url of urls) await invalid(client.clone({ url, path: "inj" }));
    await invalid(client.clone({ url: remoteUrl, path: "--template=/tmp" }));
    await invalid(
      client.clone({ url: remoteUrl, path: "inj", branch: `--upload-pack=touch ${marker}` }),
    );
    await invalid(client.clone({ url: remoteUrl, path: "inj", commit: "--orphan" }));
    expect(fs.existsSync(marker)).toBe(false);
    expect(fs.existsSync(path.join(daemon.home, "inj"))).toBe(false);
  });

  test("branches, refs, remotes and paths starting with - are INVALID_ARGUMENT", async () => {
    const repo = path.join(daemon.home, "repo");
    await invalid(client.createBranch({ path: repo, name: "--orphan" }));
    await invalid(client.createBranch({ path: repo, name: "bad..name" }));
    await invalid(client.createBranch({ path: repo, name: "ok", startPoint: "--orphan=x" }));
    await invalid(client.deleteBranch({ path: repo, name: "-D" }));
    await invalid(client.checkout({ path: repo, ref: "--orphan" }));
    await invalid(client.checkout({ path: repo, ref: "-" }));
    await invalid(client.log({ path: repo, ref: `--output=${marker}` }));
    await invalid(client.add({ path: repo, paths: ["-A"] }));
    await invalid(client.add({ path: repo, paths: ["ok.txt", "--chmod=+x"] }));
    await invalid(client.status({ path: "-C" }));
    await invalid(client.push({ path: repo, remote: `--receive-pack=touch ${marker}` }));
    await invalid(client.push({ path: repo, remote: `ext::sh -c touch% ${marker}` }));
    await invalid(client.push({ path: repo, branch: "--delete" }));
    await invalid(client.pull({ path: repo, remote: `--upload-pack=touch ${marker}` }));
    await invalid(client.pull({ path: repo, remote: "origin", branch: "-x" }));
    expect(fs.existsSync(marker)).toBe(false);
    expect(git(repo, "branch", "--list", "ok")).toBe("");
  });

  test("hooks of the repository being cloned never run", async () => {
    // Even a template-style hook that would run on checkout stays inert during Clone.
    const hooked = path.join(scratch, "hooked.git");
    git(scratch, "clone", "-q", "--bare", remote, hooked);
    const hook = path.join(hooked, "hooks", "post-checkout");
    fs.writeFileSync(hook, `#!/bin/sh\ntouch ${marker}\n`, { mode: 0o755 });
    const globalHooks = path.join(scratch, "global-hooks");
    fs.mkdirSync(globalHooks);
    fs.writeFileSync(path.join(globalHooks, "post-checkout"), `#!/bin/sh\ntouch ${marker}\n`, {
      mode: 0o755,
    });
    fs.writeFileSync(path.join(gitHome, ".gitconfig"), `[core]\n\thooksPath = ${globalHooks}\n`);
    try {
      await client.clone({ url: `file://${hooked}`, path: "hooked" });
    } finally {
      fs.rmSync(path.join(gitHome, ".gitconfig"));
    }
    expect(fs.existsSync(marker)).toBe(false);
  });
});

describe("credentials", () => {
  const password = "s3cr3t-Pa55";

  test("never reach .git/config, and are scrubbed from a failing clone's error", async () => {
    const res = await client.clone({
      url: remoteUrl,
      path: "with-creds",
      credentials: { username: "bob", password },
    });
    const config = fs.readFileSync(path.join(res.path, ".git", "config"), "utf8");
    expect(config).not.toContain(password);
    expect(config).toContain(remoteUrl);

    // The password is part of the (missing) path, so git's own message would contain it.
    const err = await failure(
      client.clone({
        url: `file://${scratch}/${password}.git`,
        path: "creds-fail",
        credentials: { username: "bob", password },
      }),
    );
    expect(err.code).toBe(Code.FailedPrecondition);
    expect(err.message).not.toContain(password);
    expect(JSON.stringify(info(err))).not.toContain(password);
    expect(info(err).metadata.stderr).toContain("***");
  });

  test("scrubSecrets hides raw and URL-encoded secrets and URL passwords", () => {
    expect(scrubSecrets("a p@ss b p%40ss c https://u:other@h/x", ["p@ss"])).toBe(
      "a *** b *** c https://u:***@h/x",
    );
  });

  describe("over smart HTTP", () => {
    let server: http.Server;
    let base: string;
    let seenArgv: string[] = [];
    let askpassPaths: string[] = [];

    beforeAll(async () => {
      server = await startGitHttpServer(scratch, "bob", password, () => {
        // While git waits for us: what does the process table show?
        for (const pid of fs.readdirSync("/proc").filter((e) => /^\d+$/.test(e))) {
          try {
            seenArgv.push(fs.readFileSync(`/proc/${pid}/cmdline`, "utf8"));
            const env = fs.readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
            const askpass = env.find((e) => e.startsWith("GIT_ASKPASS="));
            if (askpass) askpassPaths.push(askpass.slice("GIT_ASKPASS=".length));
          } catch {
            // exited
          }
        }
      });
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    });

    test("clone with the right credentials works and stores them nowhere", async () => {
      // A credential helper that would store what worked: it must not be asked.
      fs.writeFileSync(path.join(gitHome, ".gitconfig"), "[credential]\n\thelper = store\n");
      seenArgv = [];
      askpassPaths = [];
      try {
        const res = await client.clone({
          url: `${base}/remote.git`,
          path: "over-http",
          credentials: { username: "bob", password },
        });
        expect(res.headSha).toBe(git(remote, "rev-parse", "main"));
        expect(fs.readFileSync(path.join(res.path, ".git", "config"), "utf8")).not.toContain(
          password,
        );
      } finally {
        fs.rmSync(path.join(gitHome, ".gitconfig"));
      }
      expect(fs.existsSync(path.join(gitHome, ".git-credentials"))).toBe(false);
      expect(seenArgv.length).toBeGreaterThan(0);
      expect(seenArgv.filter((a) => a.includes(password))).toEqual([]);
      expect(askpassPaths.length).toBeGreaterThan(0);
      for (const p of askpassPaths) expect(fs.existsSync(path.dirname(p))).toBe(false);
    });

    test("wrong or missing credentials are GIT_AUTH_FAILED without a prompt", async () => {
      const wrong = await failure(
        client.clone({
          url: `${base}/remote.git`,
          path: "http-wrong",
          credentials: { username: "bob", password: "not-it" },
        }),
      );
      expect([wrong.code, info(wrong).reason]).toEqual([
        Code.FailedPrecondition,
        "GIT_AUTH_FAILED",
      ]);
      expect(info(wrong).metadata.url).toBe(`${base}/remote.git`);
      expect(wrong.message).not.toContain("not-it");
      const none = await failure(client.clone({ url: `${base}/remote.git`, path: "http-none" }));
      expect([none.code, info(none).reason]).toEqual([Code.FailedPrecondition, "GIT_AUTH_FAILED"]);
      expect(fs.existsSync(path.join(daemon.home, "http-wrong"))).toBe(false);
    });

    test("a push with credentials goes through", async () => {
      const repo = path.join(daemon.home, "over-http");
      fs.writeFileSync(path.join(repo, "http.txt"), "via http\n");
      await client.add({ path: repo, paths: ["http.txt"] });
      const c = await client.commit({
        path: repo,
        message: "http",
        authorName: "H",
        authorEmail: "h@x",
      });
      await client.push({
        path: repo,
        branch: "main",
        remote: "origin",
        credentials: { username: "bob", password },
        force: true,
      });
      expect(git(remote, "rev-parse", "main")).toBe(c.sha);
    });
  });
});

describe("timeouts and missing git", () => {
  test("a clone from a server that never answers is COMMAND_TIMED_OUT and leaves nothing", async () => {
    const hang = http.createServer(() => {
      // never answer
    });
    await new Promise<void>((resolve) => hang.listen(0, "127.0.0.1", resolve));
    const port = (hang.address() as AddressInfo).port;
    try {
      const started = Date.now();
      const err = await failure(
        client.clone({ url: `http://127.0.0.1:${port}/x.git`, path: "hang", timeout: seconds(1) }),
      );
      expect([err.code, info(err).reason]).toEqual([Code.DeadlineExceeded, "COMMAND_TIMED_OUT"]);
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(fs.existsSync(path.join(daemon.home, "hang"))).toBe(false);
      // git and its remote helper are gone with it.
      const left = fs
        .readdirSync("/proc")
        .filter((e) => /^\d+$/.test(e))
        .filter((pid) => {
          try {
            return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(`127.0.0.1:${port}`);
          } catch {
            return false;
          }
        });
      expect(left).toEqual([]);
    } finally {
      hang.closeAllConnections();
      await new Promise((resolve) => hang.close(resolve));
    }
    const timeoutTooLong = await failure(
      client.clone({ url: remoteUrl, path: "t", timeout: seconds(3601) }),
    );
    expect(timeoutTooLong.code).toBe(Code.InvalidArgument);
  });

  test("without git in the image, calls are RUNTIME_NOT_INSTALLED", async () => {
    const envFile = path.join(scratch, "no-git.env");
    fs.writeFileSync(envFile, `PATH=${path.join(scratch, "empty-bin")}\0HOME=${gitHome}\0`);
    const bare = await startTestDaemon({ sandboxEnvFile: envFile });
    try {
      const err = await failure(bare.client(GitService).status({ path: "." }));
      expect([err.code, info(err).reason]).toEqual([
        Code.FailedPrecondition,
        "RUNTIME_NOT_INSTALLED",
      ]);
      expect(info(err).metadata.runtime).toBe("git");
    } finally {
      await bare.close();
    }
  });
});

/**
 * startGitHttpServer serves the bare repositories under `root` through `git http-backend`,
 * requiring HTTP Basic credentials; onRequest runs before each authenticated request is served.
 */
async function startGitHttpServer(
  root: string,
  user: string,
  pass: string,
  onRequest: () => void,
): Promise<http.Server> {
  const expected = `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}`;
  const server = http.createServer((req, res) => {
    if (req.headers.authorization !== expected) {
      res.writeHead(401, { "WWW-Authenticate": 'Basic realm="cove-test"' });
      res.end();
      return;
    }
    onRequest();
    const url = new URL(req.url ?? "/", "http://localhost");
    const child = spawn("git", ["http-backend"], {
      env: {
        PATH: SYSTEM_PATH,
        HOME: gitHome,
        GIT_CONFIG_NOSYSTEM: "1",
        GIT_PROJECT_ROOT: root,
        GIT_HTTP_EXPORT_ALL: "1",
        REQUEST_METHOD: req.method ?? "GET",
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.slice(1),
        CONTENT_TYPE: req.headers["content-type"] ?? "",
        REMOTE_USER: user,
        REMOTE_ADDR: "127.0.0.1",
        GIT_PROTOCOL: String(req.headers["git-protocol"] ?? ""),
        HTTP_CONTENT_ENCODING: String(req.headers["content-encoding"] ?? ""),
      },
      stdio: ["pipe", "pipe", "ignore"],
    });
    req.pipe(child.stdin);
    let head = Buffer.alloc(0);
    let started = false;
    child.stdout.on("data", (chunk: Buffer) => {
      if (started) {
        res.write(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      let status = 200;
      const headers: Record<string, string> = {};
      for (const line of head.subarray(0, end).toString("latin1").split("\r\n")) {
        const colon = line.indexOf(":");
        const key = line.slice(0, colon).trim();
        const value = line.slice(colon + 1).trim();
        if (key.toLowerCase() === "status") status = Number.parseInt(value, 10);
        else headers[key] = value;
      }
      res.writeHead(status, headers);
      res.write(head.subarray(end + 4));
      started = true;
    });
    child.stdout.on("end", () => res.end());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}
