import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { CoveError, invalidArgument } from "@cove/common";
import {
  errnoCode,
  fileExists,
  fileNotFound,
  fsError,
  isADirectory,
  notADirectory,
  payloadTooLarge,
} from "./filesystem-errors.js";

/** A uid/gid pair that new files and directories are given. */
export interface Ownership {
  /** Owning user id. */
  uid: number;
  /** Owning group id. */
  gid: number;
}

/** How an atomic write treats the target (UploadFileHeader / WriteFileRequest). */
export interface AtomicWriteOptions {
  /** Permission bits; undefined keeps the replaced file's mode, or 0644 for a new file. */
  mode?: number;
  /** Create missing parent directories (mode 0755). */
  createParents: boolean;
  /** Replace an existing file. */
  overwrite: boolean;
  /** Declared total size, checked up front against the limit and at the end against the data. */
  sizeBytes?: bigint;
  /** Largest content accepted, in bytes. */
  limitBytes: number;
  /** The request field named by PAYLOAD_TOO_LARGE ("data" or "size_bytes"). */
  sizeField: string;
  /** Owner for new files and created parents; undefined leaves the daemon's own. */
  newOwner?: Ownership;
}

/** What an atomic write produced. */
export interface AtomicWriteResult {
  /** The path written (a symlink target is written through, not replaced). */
  path: string;
  /** Bytes written. */
  writtenBytes: number;
}

/** validateMode rejects permission bits above 07777 as INVALID_ARGUMENT naming `field`. */
export function validateMode(mode: number | undefined, field = "mode"): void {
  if (mode !== undefined && (mode < 0 || mode > 0o7777 || !Number.isInteger(mode))) {
    throw invalidArgument(field, "must be permission bits no larger than 07777");
  }
}

/**
 * writeAtomically writes `chunks` to a temporary file next to `target`, fsyncs it, gives it its
 * mode and owner, and renames it over the target (or links it into place when overwrite is
 * false, so a file that appeared meanwhile is never replaced). Readers see the old or the new
 * file, never a partial one; on any failure, including the chunk source throwing because the
 * client went away, the temporary file is removed.
 */
export async function writeAtomically(
  target: string,
  chunks: AsyncIterable<Uint8Array>,
  options: AtomicWriteOptions,
): Promise<AtomicWriteResult> {
  validateMode(options.mode);
  if (options.sizeBytes !== undefined && options.sizeBytes > BigInt(options.limitBytes)) {
    throw payloadTooLarge(options.sizeField, options.limitBytes, "the file");
  }
  const dest = await resolveTarget(target);
  const existing = await lstatOrUndefined(dest);
  if (existing?.isDirectory()) throw isADirectory(dest);
  if (existing && !options.overwrite) throw fileExists(dest);
  const dir = path.dirname(dest);
  await ensureParent(dir, options.createParents, options.newOwner);

  const temp = path.join(dir, `.${path.basename(dest)}.cove-${randomBytes(6).toString("hex")}.tmp`);
  let handle: fs.promises.FileHandle | undefined;
  let written = 0;
  let placed = false;
  try {
    handle = await fs.promises.open(temp, "wx", 0o600).catch((err) => {
      throw fsError(err, dest);
    });
    for await (const chunk of chunks) {
      if (chunk.length === 0) continue;
      written += chunk.length;
      if (written > options.limitBytes)
        throw payloadTooLarge(options.sizeField, options.limitBytes, "the file");
      let off = 0;
      while (off < chunk.length) {
        const { bytesWritten } = await handle.write(chunk, off, chunk.length - off);
        off += bytesWritten;
      }
    }
    if (options.sizeBytes !== undefined && BigInt(written) !== options.sizeBytes) {
      throw invalidArgument(
        "size_bytes",
        `declared ${options.sizeBytes} bytes but ${written} arrived`,
      );
    }
    await handle.chmod(options.mode ?? (existing ? existing.mode & 0o7777 : 0o644));
    const owner = existing ? { uid: existing.uid, gid: existing.gid } : options.newOwner;
    if (owner) await chownIfNeeded(handle, owner);
    await handle.sync();
    await handle.close();
    handle = undefined;
    if (options.overwrite) {
      await fs.promises.rename(temp, dest);
    } else {
      await fs.promises.link(temp, dest);
      await fs.promises.unlink(temp);
    }
    placed = true;
    await syncDir(dir);
    return { path: dest, writtenBytes: written };
  } catch (err) {
    throw err instanceof CoveError ? err : fsError(err, dest);
  } finally {
    if (handle) await handle.close().catch(() => {});
    if (!placed) await fs.promises.unlink(temp).catch(() => {});
  }
}

/** resolveTarget follows a symlink at the target so the file it points to is replaced. */
async function resolveTarget(target: string): Promise<string> {
  try {
    return await fs.promises.realpath(target);
  } catch (err) {
    const code = errnoCode(err);
    if (code === "ENOENT") return target;
    if (code === "ENOTDIR") throw notADirectory(path.dirname(target));
    throw fsError(err, target);
  }
}

async function lstatOrUndefined(p: string): Promise<fs.Stats | undefined> {
  try {
    return await fs.promises.lstat(p);
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return undefined;
    if (errnoCode(err) === "ENOTDIR") throw notADirectory(path.dirname(p));
    throw fsError(err, p);
  }
}

/** ensureParent checks the directory a file goes into, creating it (and ancestors) if asked. */
async function ensureParent(
  dir: string,
  create: boolean,
  owner: Ownership | undefined,
): Promise<void> {
  const st = await lstatOrUndefined(dir).catch(() => undefined);
  if (st?.isDirectory()) return;
  if (st) {
    // A symlink to a directory is fine as a parent.
    const target = await fs.promises.stat(dir).catch(() => undefined);
    if (target?.isDirectory()) return;
    throw notADirectory(dir);
  }
  if (!create) throw fileNotFound(dir);
  await makeDirs(dir, 0o755, owner);
}

/**
 * makeDirs creates `dir` and its missing ancestors with `mode` (umask not applied) and the given
 * owner. It returns false when `dir` already existed as a directory. An ancestor that is not a
 * directory is NOT_A_DIRECTORY.
 */
export async function makeDirs(
  dir: string,
  mode: number,
  owner: Ownership | undefined,
): Promise<boolean> {
  const missing: string[] = [];
  let cur = dir;
  for (;;) {
    let st: fs.Stats | undefined;
    try {
      st = await fs.promises.stat(cur);
    } catch (err) {
      const code = errnoCode(err);
      if (code === "ENOTDIR") {
        missing.length = 0;
        cur = path.dirname(cur);
        continue;
      }
      if (code !== "ENOENT") throw fsError(err, cur);
    }
    if (st) {
      if (!st.isDirectory()) throw notADirectory(cur);
      break;
    }
    missing.push(cur);
    const parent = path.dirname(cur);
    if (parent === cur) break;
    cur = parent;
  }
  if (missing.length === 0) return false;
  for (const d of missing.reverse()) {
    try {
      await fs.promises.mkdir(d);
    } catch (err) {
      if (errnoCode(err) === "EEXIST" && (await fs.promises.stat(d)).isDirectory()) continue;
      throw fsError(err, d);
    }
    await fs.promises.chmod(d, mode).catch((err) => {
      throw fsError(err, d);
    });
    if (owner) await fs.promises.lchown(d, owner.uid, owner.gid).catch(() => {});
  }
  return true;
}

async function chownIfNeeded(handle: fs.promises.FileHandle, owner: Ownership): Promise<void> {
  const st = await handle.stat();
  if (st.uid === owner.uid && st.gid === owner.gid) return;
  await handle.chown(owner.uid, owner.gid);
}

/** syncDir makes a rename durable; filesystems that cannot fsync a directory are ignored. */
async function syncDir(dir: string): Promise<void> {
  let h: fs.promises.FileHandle | undefined;
  try {
    h = await fs.promises.open(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    await h.sync();
  } catch {
    // Best effort.
  } finally {
    await h?.close().catch(() => {});
  }
}
