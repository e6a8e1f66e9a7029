import { execFile } from "node:child_process";
import { invalidArgument } from "@cove/common";

/** Longest URL GitService accepts, in bytes. */
export const MAX_URL_BYTES = 4096;
/** Longest branch, ref or remote name GitService accepts, in bytes. */
export const MAX_REF_BYTES = 1024;

/** URL schemes git may use; everything else (ext::, fd::, <helper>:: and <helper>://) is refused. */
const ALLOWED_SCHEMES = new Set(["https", "http", "ssh", "git", "file"]);

// Control characters (C0 and DEL): never part of a URL, ref or path git should see.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const CONTROL = /[\u0000-\u001f\u007f]/;

/** The remote-helper syntax `<transport>::<address>` (git's own rule for it). */
const HELPER = /^[A-Za-z0-9+.-]*::/;
const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//;
/** scp-like `[user@]host:path`; git takes it when a colon comes before any slash. */
const SCP = /^(?:([^@/:]+)@)?(\[[^\]/]+\]|[^@/:]+):/;

function common(value: string, field: string, maxBytes: number): void {
  if (value.includes("\0")) throw invalidArgument(field, "must not contain NUL bytes");
  if (Buffer.byteLength(value) > maxBytes) {
    throw invalidArgument(field, `must be at most ${maxBytes} bytes`);
  }
  if (value.startsWith("-")) throw invalidArgument(field, 'must not start with "-"');
  if (CONTROL.test(value)) throw invalidArgument(field, "must not contain control characters");
}

/**
 * validateUrl checks a repository URL: https, http, ssh, git and file URLs, scp-style
 * `user@host:path`, and local paths (absolute, or starting with ./ or ../) are allowed; a
 * leading "-", `<helper>::` transports (ext::, fd:: …), other schemes, and hosts or users that
 * start with "-" (ssh option injection) are INVALID_ARGUMENT naming `field`.
 */
export function validateUrl(url: string, field = "url"): void {
  if (url === "") throw invalidArgument(field, "must not be empty");
  common(url, field, MAX_URL_BYTES);
  if (HELPER.test(url)) {
    throw invalidArgument(field, 'remote-helper transports ("<helper>::") are not allowed');
  }
  const scheme = SCHEME.exec(url);
  if (scheme) {
    const name = (scheme[1] as string).toLowerCase();
    if (!ALLOWED_SCHEMES.has(name)) {
      throw invalidArgument(
        field,
        `scheme "${name}" is not allowed (use https, http, ssh, git or file)`,
      );
    }
    if (name !== "file") {
      const authority = url.slice(scheme[0].length).split("/")[0] ?? "";
      const at = authority.lastIndexOf("@");
      const user = at >= 0 ? authority.slice(0, at) : "";
      const host = at >= 0 ? authority.slice(at + 1) : authority;
      if (host === "") throw invalidArgument(field, "must name a host");
      if (host.startsWith("-") || user.startsWith("-")) {
        throw invalidArgument(field, 'host and user must not start with "-"');
      }
    }
    return;
  }
  if (url.startsWith("/") || url.startsWith("./") || url.startsWith("../")) return;
  const scp = SCP.exec(url);
  if (scp) {
    const user = scp[1] ?? "";
    const host = scp[2] as string;
    if (host.startsWith("-") || user.startsWith("-")) {
      throw invalidArgument(field, 'host and user must not start with "-"');
    }
    return;
  }
  throw invalidArgument(
    field,
    "must be an https, http, ssh, git or file URL, user@host:path, or a path starting with /, ./ or ../",
  );
}

/**
 * validateRemote checks a remote given as a name ("origin") or a URL (see validateUrl);
 * INVALID_ARGUMENT naming `field` otherwise.
 */
export function validateRemote(remote: string, field = "remote"): void {
  if (remote.includes(":") || remote.startsWith("/") || remote.startsWith(".")) {
    validateUrl(remote, field);
    return;
  }
  common(remote, field, MAX_REF_BYTES);
  if (!/^[A-Za-z0-9_][A-Za-z0-9_./-]*$/.test(remote) || remote.includes("..")) {
    throw invalidArgument(field, "must be a remote name (letters, digits, _ . / -) or a URL");
  }
}

/**
 * checkRefFormat resolves to whether `git check-ref-format --branch` accepts the name; the
 * name has already been checked not to start with "-", and git runs outside any repository.
 */
function checkRefFormat(git: string, name: string): Promise<boolean> {
  return new Promise((resolve) => {
    execFile(
      git,
      ["check-ref-format", "--branch", name],
      { cwd: "/", timeout: 10_000, env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } },
      (err) => resolve(err === null),
    );
  });
}

/**
 * validateBranch checks a branch name: no leading "-", no control characters, and accepted by
 * `git check-ref-format --branch` (so no "..", "@{", "~", "^", ":", spaces …).
 * INVALID_ARGUMENT naming `field` otherwise.
 */
export async function validateBranch(git: string, name: string, field: string): Promise<void> {
  if (name === "") throw invalidArgument(field, "must not be empty");
  common(name, field, MAX_REF_BYTES);
  if (!(await checkRefFormat(git, name))) {
    throw invalidArgument(field, `"${name}" is not a valid branch name (git check-ref-format)`);
  }
}

/**
 * validateRevision checks a branch, tag or commit to read from: "HEAD" or a name accepted by
 * `git check-ref-format --branch`, optionally followed by ~N / ^N suffixes (e.g. "HEAD~2",
 * "v1.0^"). INVALID_ARGUMENT naming `field` otherwise.
 */
export async function validateRevision(git: string, rev: string, field: string): Promise<void> {
  if (rev === "") throw invalidArgument(field, "must not be empty");
  common(rev, field, MAX_REF_BYTES);
  const base = rev.replace(/(?:[~^]\d*)+$/, "");
  if (base === "HEAD") return;
  if (base === "" || !(await checkRefFormat(git, base))) {
    throw invalidArgument(field, `"${rev}" is not a valid branch, tag or commit name`);
  }
}

/**
 * validatePathspec checks one path for Add: not empty, no NUL or control characters, not
 * starting with "-". Paths are passed after "--" with literal pathspecs, so no magic applies.
 */
export function validatePathspec(p: string, field: string): void {
  if (p === "") throw invalidArgument(field, "must not be empty");
  common(p, field, 4096);
}

/** validatePathField rejects a repository path that starts with "-" (the proto's rule). */
export function validatePathField(p: string, field = "path"): void {
  if (p.startsWith("-")) throw invalidArgument(field, 'must not start with "-"');
}

/**
 * validateIdent checks an author name or email: at most 256 bytes, no NUL, newline, "<" or ">"
 * (git would mangle or refuse them). INVALID_ARGUMENT naming `field` otherwise.
 */
export function validateIdent(value: string, field: string): void {
  if (Buffer.byteLength(value) > 256) throw invalidArgument(field, "must be at most 256 bytes");
  if (CONTROL.test(value) || /[<>]/.test(value)) {
    throw invalidArgument(field, 'must not contain control characters, "<" or ">"');
  }
}

/**
 * validateCredentials checks a username and password for the askpass helper: no NUL or
 * newlines (the helper answers one line), at most 4096 bytes each. The message never echoes
 * the value.
 */
export function validateCredentials(username: string, password: string): void {
  for (const [field, value] of [
    ["credentials.username", username],
    ["credentials.password", password],
  ] as const) {
    if (Buffer.byteLength(value) > 4096) throw invalidArgument(field, "must be at most 4096 bytes");
    if (CONTROL.test(value)) throw invalidArgument(field, "must not contain control characters");
  }
}

/**
 * repoNameFromUrl derives the directory a clone goes to when no path is given, like git's
 * "humanish" name: the last path component without ".git" (e.g. "repo" for
 * https://host/org/repo.git); undefined when none can be derived.
 */
export function repoNameFromUrl(url: string): string | undefined {
  let rest = url.replace(SCHEME, "");
  rest = rest
    .replace(/[/\\]+$/, "")
    .replace(/\/\.git$/, "")
    .replace(/[/\\]+$/, "");
  const last = rest.split(/[/:]/).pop() ?? "";
  const name = last.replace(/\.git$/, "").replace(/\.bundle$/, "");
  if (name === "" || name === "." || name === ".." || name.startsWith("-")) return undefined;
  return name;
}
