import * as fs from "node:fs";
import * as path from "node:path";
import { CoveError, failedPrecondition, invalidArgument } from "@cove/common";
import { limitClientStream } from "./client-stream.js";
import {
  directoryNotEmpty,
  errnoCode,
  fileExists,
  fileNotFound,
  fsError,
  isADirectory,
  notADirectory,
  payloadTooLarge,
} from "./filesystem-errors.js";
import { type FileEntry, IdNames, specialKind, toEntry } from "./filesystem-info.js";
import { walkSorted } from "./filesystem-walk.js";
import { makeDirs, type Ownership, validateMode, writeAtomically } from "./filesystem-write.js";
import { resolvePath } from "./paths.js";
import { type RunAsRules, runAs } from "./run-as.js";
import { MAX_TEXT_WORKERS, Slots } from "./text-worker.js";

/** Default ReadFile chunk: 256 KiB. */
export const DEFAULT_READ_CHUNK_BYTES = 256 * 1024;
/** Largest ReadFile chunk: 4 MiB. */
export const MAX_READ_CHUNK_BYTES = 4 * 1024 * 1024;
/** Largest WriteFile payload: 8 MiB. */
export const MAX_WRITE_FILE_BYTES = 8 * 1024 * 1024;
/** Default UploadFile limit: 10 GiB. */
export const DEFAULT_UPLOAD_LIMIT_BYTES = 10 * 1024 * 1024 * 1024;
/** Deepest ListDir. */
export const MAX_LIST_DEPTH = 32;
/** Default and largest ListDir page. */
export const DEFAULT_PAGE_SIZE = 1000;
/** Largest ListDir page. */
export const MAX_PAGE_SIZE = 10_000;

/** What Filesystem needs from the daemon. */
export interface FilesystemOptions extends RunAsRules {
  /** Largest UploadFile, in bytes. */
  uploadLimitBytes: number;
  /** Silence after which an upload stream is ended, in ms. */
  clientStreamIdleMs: number;
}

/** Options of a write (UploadFileHeader / WriteFileRequest without the data). */
export interface WriteRequest {
  /** Target path. */
  path: string;
  /** Permission bits; undefined keeps the replaced file's or uses 0644. */
  mode?: number;
  /** Create missing parents; undefined means true. */
  createParents?: boolean;
  /** Replace an existing file; undefined means true. */
  overwrite?: boolean;
  /** Declared size, if known. */
  sizeBytes?: bigint;
}

/** One message of a ReadFile stream: the info first, then data chunks. */
export type ReadPart =
  | { kind: "info"; info: FileEntry }
  | { kind: "data"; offset: bigint; data: Uint8Array };

/** One page of ListDir. */
export interface DirPage {
  /** Entries of this page in byte order of path. */
  entries: FileEntry[];
  /** Token for the next page; empty on the last. */
  nextPageToken: string;
}

/** Changes SetPermissions applies. */
export interface PermissionChange {
  /** New mode bits. */
  mode?: number;
  /** New owner name or uid; empty leaves it. */
  owner: string;
  /** New group name or gid; empty leaves it. */
  group: string;
  /** Apply under a directory too. */
  recursive: boolean;
}

/**
 * Filesystem implements the file operations of the toolbox on the sandbox's own filesystem:
 * every path is resolved against the user's home, every fs error is mapped by fsError, and new
 * files and directories are given to the sandbox user.
 */
export class Filesystem {
  /** Maps uids and gids to names for FileInfo. */
  readonly ids = new IdNames();
  /** Bounds the worker threads of FindInFiles and ReplaceInFiles. */
  readonly textWorkers = new Slots(MAX_TEXT_WORKERS);

  constructor(readonly options: FilesystemOptions) {}

  /** resolve validates a request path and makes it absolute. */
  resolve(input: string, field = "path"): string {
    return resolvePath(input, this.options.home, field);
  }

  /** newOwner is the sandbox user's uid/gid when the daemon can and should chown. */
  newOwner(): Ownership | undefined {
    if (process.getuid?.() !== 0) return undefined;
    const { user } = runAs(this.options);
    return user && { uid: user.uid, gid: user.gid };
  }

  /** describe returns the FileEntry of an absolute path (lstat, or stat when following). */
  async describe(p: string, follow = false): Promise<FileEntry> {
    try {
      const st = follow ? await fs.promises.stat(p) : await fs.promises.lstat(p);
      return await toEntry(p, st, this.ids);
    } catch (err) {
      throw fsError(err, p);
    }
  }

  /** stat describes one entry. */
  async stat(input: string, followSymlinks: boolean): Promise<FileEntry> {
    return this.describe(this.resolve(input), followSymlinks);
  }

  /** listDir lists a directory `depth` levels deep in byte order, one page at a time. */
  async listDir(
    input: string,
    depth: number,
    pageSize: number,
    pageToken: string,
  ): Promise<DirPage> {
    const root = this.resolve(input);
    if (depth < 0 || depth > MAX_LIST_DEPTH) {
      throw invalidArgument("depth", `must be between 0 and ${MAX_LIST_DEPTH}`);
    }
    if (pageSize < 0) throw invalidArgument("page_size", "must not be negative");
    const maxDepth = depth === 0 ? 1 : depth;
    const size = pageSize === 0 ? DEFAULT_PAGE_SIZE : Math.min(pageSize, MAX_PAGE_SIZE);
    const after = pageToken === "" ? undefined : decodePageToken(pageToken, root, maxDepth);
    await this.requireDirectory(root);

    const paths: string[] = [];
    let more = false;
    try {
      for await (const entry of walkSorted(root, { maxDepth, after })) {
        if (paths.length === size) {
          more = true;
          break;
        }
        paths.push(entry.path);
      }
    } catch (err) {
      throw fsError(err, root);
    }
    const entries = await this.describeMany(paths);
    const last = paths.at(-1);
    return { entries, nextPageToken: more && last ? encodePageToken(root, maxDepth, last) : "" };
  }

  private async describeMany(paths: string[]): Promise<FileEntry[]> {
    const out: FileEntry[] = [];
    for (let i = 0; i < paths.length; i += 64) {
      const batch = await Promise.all(
        paths.slice(i, i + 64).map(async (p) => {
          try {
            return await toEntry(p, await fs.promises.lstat(p), this.ids);
          } catch {
            return undefined; // Removed since it was listed.
          }
        }),
      );
      for (const e of batch) if (e) out.push(e);
    }
    return out;
  }

  /** requireDirectory throws FILE_NOT_FOUND / NOT_A_DIRECTORY unless `p` is (a link to) a directory. */
  async requireDirectory(p: string): Promise<void> {
    let st: fs.Stats;
    try {
      st = await fs.promises.stat(p);
    } catch (err) {
      throw fsError(err, p);
    }
    if (!st.isDirectory()) throw notADirectory(p);
  }

  /** makeDir creates a directory (with parents: like mkdir -p) with `mode`, default 0755. */
  async makeDir(input: string, parents: boolean, mode = 0o755): Promise<FileEntry> {
    const dir = this.resolve(input);
    validateMode(mode);
    const owner = this.newOwner();
    if (parents) {
      const existing = await fs.promises.lstat(dir).catch(() => undefined);
      if (existing && !existing.isDirectory()) {
        const target = await fs.promises.stat(dir).catch(() => undefined);
        if (!target?.isDirectory()) throw fileExists(dir);
      }
      await makeDirs(dir, mode, owner);
      return this.describe(dir);
    }
    try {
      await fs.promises.mkdir(dir);
      await fs.promises.chmod(dir, mode);
    } catch (err) {
      throw fsError(err, errnoCode(err) === "ENOENT" ? path.dirname(dir) : dir);
    }
    if (owner) await fs.promises.lchown(dir, owner.uid, owner.gid).catch(() => {});
    return this.describe(dir);
  }

  /** move renames an entry, copying then deleting when it crosses filesystems. */
  async move(
    sourceInput: string,
    destinationInput: string,
    overwrite: boolean,
  ): Promise<FileEntry> {
    const source = this.resolve(sourceInput, "source");
    const dest = this.resolve(destinationInput, "destination");
    let src: fs.Stats;
    try {
      src = await fs.promises.lstat(source);
    } catch (err) {
      throw fsError(err, source, "source");
    }
    if (source === dest) return this.describe(dest);
    if (src.isDirectory() && (dest.startsWith(`${source}/`) || source === "/")) {
      throw invalidArgument("destination", "must not be inside the source directory");
    }
    const existing = await fs.promises.lstat(dest).catch((err) => {
      if (errnoCode(err) === "ENOENT") return undefined;
      throw fsError(err, dest, "destination");
    });
    if (existing) {
      if (!overwrite) throw fileExists(dest);
      if (src.isDirectory() && !existing.isDirectory()) throw notADirectory(dest);
      if (!src.isDirectory() && existing.isDirectory()) throw isADirectory(dest);
    }
    try {
      await fs.promises.rename(source, dest);
    } catch (err) {
      const code = errnoCode(err);
      if (code === "EXDEV") {
        await this.copyAcross(source, dest, src, existing);
      } else if (code === "ENOENT") {
        throw fileNotFound(path.dirname(dest));
      } else if (code === "ENOTEMPTY" || code === "EEXIST") {
        throw directoryNotEmpty(dest);
      } else {
        throw fsError(err, dest, "destination");
      }
    }
    return this.describe(dest);
  }

  private async copyAcross(
    source: string,
    dest: string,
    src: fs.Stats,
    existing?: fs.Stats,
  ): Promise<void> {
    try {
      if (existing?.isDirectory()) {
        await fs.promises.rmdir(dest).catch((err) => {
          throw errnoCode(err) === "ENOTEMPTY" ? directoryNotEmpty(dest) : err;
        });
      }
      await fs.promises.cp(source, dest, {
        recursive: src.isDirectory(),
        force: true,
        errorOnExist: false,
        preserveTimestamps: true,
        verbatimSymlinks: true,
      });
      await fs.promises.rm(source, { recursive: true, force: true });
    } catch (err) {
      throw fsError(err, dest, "destination");
    }
  }

  /** remove deletes a file, symlink or (empty, or with recursive any) directory. */
  async remove(input: string, recursive: boolean): Promise<void> {
    const p = this.resolve(input);
    if (p === "/") throw invalidArgument("path", 'must not be "/"');
    let st: fs.Stats;
    try {
      st = await fs.promises.lstat(p);
      if (!st.isDirectory()) await fs.promises.unlink(p);
      else if (recursive) await fs.promises.rm(p, { recursive: true });
      else await fs.promises.rmdir(p);
    } catch (err) {
      throw fsError(err, p);
    }
  }

  /**
   * readFile yields the file's info, then its bytes from `offset` in chunks, read through one
   * file handle so memory stays at one chunk. Only regular files are read: the path is opened
   * non-blocking and checked with fstat before any read, so FIFOs and devices never block or
   * flood.
   */
  async *readFile(
    input: string,
    offset: bigint,
    length: bigint,
    chunkSize: number,
  ): AsyncGenerator<ReadPart> {
    const p = this.resolve(input);
    if (offset < 0n) throw invalidArgument("offset", "must not be negative");
    if (length < 0n) throw invalidArgument("length", "must not be negative");
    if (chunkSize < 0) throw invalidArgument("chunk_size_bytes", "must not be negative");
    const chunk =
      chunkSize === 0 ? DEFAULT_READ_CHUNK_BYTES : Math.min(chunkSize, MAX_READ_CHUNK_BYTES);
    let pre: fs.Stats;
    try {
      pre = await fs.promises.stat(p);
    } catch (err) {
      throw fsError(err, p);
    }
    requireRegular(p, pre);
    let handle: fs.promises.FileHandle;
    try {
      handle = await fs.promises.open(
        p,
        fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY,
      );
    } catch (err) {
      throw fsError(err, p);
    }
    try {
      const st = await handle.stat();
      requireRegular(p, st);
      if (offset > BigInt(st.size)) {
        throw new CoveError(
          "outOfRange",
          "INVALID_FIELD",
          `offset ${offset} is beyond the end of ${p} (${st.size} bytes)`,
          {
            field: "offset",
            path: p,
          },
        );
      }
      yield { kind: "info", info: await toEntry(p, st, this.ids) };
      let pos = Number(offset);
      let remaining = length === 0n ? Number.POSITIVE_INFINITY : Number(length);
      while (remaining > 0) {
        const want = Math.min(chunk, remaining);
        const buf = Buffer.allocUnsafe(want);
        const { bytesRead } = await handle.read(buf, 0, want, pos);
        if (bytesRead === 0) break;
        yield {
          kind: "data",
          offset: BigInt(pos),
          data: bytesRead === want ? buf : buf.subarray(0, bytesRead),
        };
        pos += bytesRead;
        remaining -= bytesRead;
      }
    } catch (err) {
      throw fsError(err, p);
    } finally {
      await handle.close().catch(() => {});
    }
  }

  /**
   * guardIdle ends a client stream with DEADLINE_EXCEEDED when it stays silent for
   * clientStreamIdleMs, and as soon as `signal` aborts (the client went away).
   */
  guardIdle<T>(source: AsyncIterable<T>, signal?: AbortSignal): AsyncIterable<T> {
    return limitClientStream(source, this.options.clientStreamIdleMs, signal);
  }

  /**
   * upload writes a file from a stream of chunks (see writeAtomically); pass the chunks through
   * guardIdle so a silent or cancelled client ends the upload and its temporary file.
   */
  async upload(req: WriteRequest, chunks: AsyncIterable<Uint8Array>) {
    const target = this.resolve(req.path);
    const limit = this.options.uploadLimitBytes;
    const declaredTooLarge = req.sizeBytes !== undefined && req.sizeBytes > BigInt(limit);
    const result = await writeAtomically(target, chunks, {
      mode: req.mode,
      createParents: req.createParents ?? true,
      overwrite: req.overwrite ?? true,
      sizeBytes: req.sizeBytes,
      limitBytes: limit,
      sizeField: declaredTooLarge ? "size_bytes" : "data",
      newOwner: this.newOwner(),
    });
    return { info: await this.describe(result.path), writtenBytes: result.writtenBytes };
  }

  /** writeFile writes up to 8 MiB in one call, with the same atomic replace as upload. */
  async writeFile(req: WriteRequest, data: Uint8Array): Promise<FileEntry> {
    const target = this.resolve(req.path);
    if (data.length > MAX_WRITE_FILE_BYTES)
      throw payloadTooLarge("data", MAX_WRITE_FILE_BYTES, "data");
    const result = await writeAtomically(target, oneChunk(data), {
      mode: req.mode,
      createParents: req.createParents ?? true,
      overwrite: req.overwrite ?? true,
      limitBytes: MAX_WRITE_FILE_BYTES,
      sizeField: "data",
      newOwner: this.newOwner(),
    });
    return this.describe(result.path);
  }

  /** setPermissions changes mode (following symlinks) and owner/group (not following). */
  async setPermissions(input: string, change: PermissionChange): Promise<FileEntry> {
    const p = this.resolve(input);
    validateMode(change.mode);
    const uid = change.owner === "" ? -1 : this.options.users.lookup(change.owner, "owner").uid;
    const gid = change.group === "" ? -1 : this.ids.groupId(change.group, "group");
    const apply = async (target: string, isLink: boolean) => {
      try {
        if (change.mode !== undefined && !isLink) await fs.promises.chmod(target, change.mode);
        if (uid !== -1 || gid !== -1) await fs.promises.lchown(target, uid, gid);
      } catch (err) {
        throw fsError(err, target);
      }
    };
    let st: fs.Stats;
    try {
      st = await fs.promises.lstat(p);
    } catch (err) {
      throw fsError(err, p);
    }
    if (st.isSymbolicLink() && change.mode !== undefined) {
      try {
        await fs.promises.chmod(p, change.mode);
      } catch (err) {
        throw fsError(err, p);
      }
    }
    await apply(p, st.isSymbolicLink());
    if (change.recursive && st.isDirectory()) {
      for await (const entry of walkSorted(p, { maxDepth: Number.POSITIVE_INFINITY })) {
        await apply(entry.path, entry.type === "symlink");
      }
    }
    return this.describe(p);
  }
}

function requireRegular(p: string, st: fs.Stats): void {
  if (st.isDirectory()) throw isADirectory(p);
  if (!st.isFile()) {
    throw failedPrecondition(
      "NOT_A_REGULAR_FILE",
      `not a regular file (${specialKind(st)}): ${p}`,
      {
        path: p,
        fileType: specialKind(st),
      },
    );
  }
}

async function* oneChunk(data: Uint8Array): AsyncGenerator<Uint8Array> {
  yield data;
}

function encodePageToken(root: string, depth: number, after: string): string {
  return Buffer.from(JSON.stringify({ r: root, d: depth, a: after })).toString("base64url");
}

function decodePageToken(token: string, root: string, depth: number): string {
  try {
    const t = JSON.parse(Buffer.from(token, "base64url").toString()) as {
      r?: unknown;
      d?: unknown;
      a?: unknown;
    };
    if (t.r === root && t.d === depth && typeof t.a === "string") return t.a;
  } catch {
    // Fall through to the error below.
  }
  throw invalidArgument("page_token", "is not a token from this listing");
}
