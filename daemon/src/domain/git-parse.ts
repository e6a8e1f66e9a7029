/** State of a path in the index or the work tree, as GitFileState. */
export type FileState =
  | "unmodified"
  | "modified"
  | "added"
  | "deleted"
  | "renamed"
  | "copied"
  | "typeChanged"
  | "untracked"
  | "conflicted";

/** One changed path from `git status`. */
export interface FileStatus {
  /** Path relative to the repository root. */
  path: string;
  /** Source of a rename or copy, or "". */
  originalPath: string;
  /** Index relative to HEAD. */
  staged: FileState;
  /** Work tree relative to the index. */
  unstaged: FileState;
}

/** What `git status --porcelain=v2 --branch` says. */
export interface RepoStatus {
  /** Current branch, "" when detached. */
  branch: string;
  /** HEAD's hash, "" before the first commit. */
  headSha: string;
  /** Upstream, e.g. "origin/main", or "". */
  upstream: string;
  /** Commits ahead of the upstream. */
  ahead: number;
  /** Commits behind the upstream. */
  behind: number;
  /** Changed paths, at most `maxFiles`. */
  files: FileStatus[];
  /** Whether there were more (or the output was cut). */
  filesTruncated: boolean;
}

/** A branch from `git for-each-ref`. */
export interface BranchInfo {
  /** Short name ("main", "origin/main"). */
  name: string;
  /** Whether it is a remote-tracking branch. */
  remote: boolean;
  /** Whether it is checked out. */
  current: boolean;
  /** Hash it points to. */
  commitSha: string;
  /** Configured upstream, or "". */
  upstream: string;
}

/** A commit from `git log`. */
export interface CommitInfo {
  /** Full hash. */
  sha: string;
  /** Full message. */
  message: string;
  /** Author name. */
  authorName: string;
  /** Author email. */
  authorEmail: string;
  /** Author date. */
  authorTime: Date;
  /** Parent hashes. */
  parentShas: string[];
}

const states: Record<string, FileState> = {
  ".": "unmodified",
  M: "modified",
  A: "added",
  D: "deleted",
  R: "renamed",
  C: "copied",
  T: "typeChanged",
  U: "conflicted",
};

const state = (c: string | undefined): FileState => states[c ?? "."] ?? "modified";

/**
 * parseStatus reads `git status --porcelain=v2 --branch -z`. With `truncated` (the output was
 * cut), the last, possibly partial, record is dropped and filesTruncated is set.
 */
export function parseStatus(out: string, truncated: boolean, maxFiles: number): RepoStatus {
  const status: RepoStatus = {
    branch: "",
    headSha: "",
    upstream: "",
    ahead: 0,
    behind: 0,
    files: [],
    filesTruncated: truncated,
  };
  const records = out.split("\0");
  if (truncated || records.at(-1) === "") records.pop();
  for (let i = 0; i < records.length; i++) {
    const rec = records[i] as string;
    if (rec.startsWith("# ")) {
      const [key, ...rest] = rec.slice(2).split(" ");
      const value = rest.join(" ");
      if (key === "branch.oid") status.headSha = value === "(initial)" ? "" : value;
      else if (key === "branch.head") status.branch = value === "(detached)" ? "" : value;
      else if (key === "branch.upstream") status.upstream = value;
      else if (key === "branch.ab") {
        const m = /^\+(\d+) -(\d+)$/.exec(value);
        if (m) {
          status.ahead = Number(m[1]);
          status.behind = Number(m[2]);
        }
      }
      continue;
    }
    let file: FileStatus | undefined;
    const kind = rec[0];
    if (kind === "1") {
      // 1 XY sub mH mI mW hH hI path
      const fields = splitN(rec, 9);
      const xy = fields[1] ?? "..";
      file = {
        path: fields[8] ?? "",
        originalPath: "",
        staged: state(xy[0]),
        unstaged: state(xy[1]),
      };
    } else if (kind === "2") {
      // 2 XY sub mH mI mW hH hI Xscore path, then the original path as the next record
      const fields = splitN(rec, 10);
      const xy = fields[1] ?? "..";
      const original = records[++i] ?? "";
      file = {
        path: fields[9] ?? "",
        originalPath: original,
        staged: state(xy[0]),
        unstaged: state(xy[1]),
      };
    } else if (kind === "u") {
      // u XY sub m1 m2 m3 mW h1 h2 h3 path
      const fields = splitN(rec, 11);
      file = {
        path: fields[10] ?? "",
        originalPath: "",
        staged: "conflicted",
        unstaged: "conflicted",
      };
    } else if (kind === "?") {
      file = { path: rec.slice(2), originalPath: "", staged: "unmodified", unstaged: "untracked" };
    }
    if (!file) continue; // "!" (ignored) and anything unknown
    if (status.files.length >= maxFiles) {
      status.filesTruncated = true;
      break;
    }
    status.files.push(file);
  }
  return status;
}

/** splitN splits on spaces into at most n fields; the last keeps its spaces (paths). */
function splitN(text: string, n: number): string[] {
  const out: string[] = [];
  let rest = text;
  while (out.length < n - 1) {
    const sp = rest.indexOf(" ");
    if (sp < 0) break;
    out.push(rest.slice(0, sp));
    rest = rest.slice(sp + 1);
  }
  out.push(rest);
  return out;
}

/** The for-each-ref format parseBranches reads: refname, hash, upstream, HEAD mark, symref. */
export const BRANCH_FORMAT = "%(refname)%00%(objectname)%00%(upstream:short)%00%(HEAD)%00%(symref)";

/** parseBranches reads `git for-each-ref --format=BRANCH_FORMAT`, skipping symbolic refs. */
export function parseBranches(out: string): BranchInfo[] {
  const branches: BranchInfo[] = [];
  for (const line of out.split("\n")) {
    if (line === "") continue;
    const [ref = "", sha = "", upstream = "", head = "", symref = ""] = line.split("\0");
    if (symref !== "") continue; // origin/HEAD and friends
    if (ref.startsWith("refs/heads/")) {
      branches.push({
        name: ref.slice("refs/heads/".length),
        remote: false,
        current: head === "*",
        commitSha: sha,
        upstream,
      });
    } else if (ref.startsWith("refs/remotes/")) {
      branches.push({
        name: ref.slice("refs/remotes/".length),
        remote: true,
        current: false,
        commitSha: sha,
        upstream: "",
      });
    }
  }
  return branches;
}

const FIELD = "\x1f";

/** The log format parseLog reads (fields separated by US; commits by NUL with -z). */
export const LOG_FORMAT = "%H%x1f%P%x1f%an%x1f%ae%x1f%at%x1f%B";

/** parseLog reads `git log -z --format=LOG_FORMAT`. */
export function parseLog(out: string): CommitInfo[] {
  const commits: CommitInfo[] = [];
  for (const rec of out.split("\0")) {
    if (rec === "") continue;
    const parts = rec.split(FIELD);
    if (parts.length < 6) continue;
    const [sha = "", parents = "", name = "", email = "", time = "0"] = parts;
    commits.push({
      sha,
      parentShas: parents === "" ? [] : parents.split(" "),
      authorName: name,
      authorEmail: email,
      authorTime: new Date(Number(time) * 1000),
      // The message is last; it may itself contain the separator.
      message: parts.slice(5).join(FIELD),
    });
  }
  return commits;
}
