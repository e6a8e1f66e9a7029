import type { MessageInitShape } from "@bufbuild/protobuf";
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import type { FileInfo } from "@cove/gen-ts/cove/toolbox/v1/filesystem_pb.js";
import { FileType } from "@cove/gen-ts/cove/toolbox/v1/filesystem_pb.js";
import type {
  FilesystemService,
  ReadFileResponse,
  UploadFileRequestSchema,
} from "@cove/gen-ts/cove/toolbox/v1/filesystem_service_pb.js";
import { ByteFeed } from "./byte-feed.js";

/** SFTP status codes (draft-ietf-secsh-filexfer-02 §7). */
export const SftpStatus = {
  OK: 0,
  EOF: 1,
  NO_SUCH_FILE: 2,
  PERMISSION_DENIED: 3,
  FAILURE: 4,
  BAD_MESSAGE: 5,
  OP_UNSUPPORTED: 8,
} as const;

/** An SFTP status code. */
export type SftpStatusCode = (typeof SftpStatus)[keyof typeof SftpStatus];

/** SftpError is a refusal with an SFTP status, sent back as the request's STATUS. */
export class SftpError extends Error {
  constructor(
    /** The SFTP status code. */
    readonly status: SftpStatusCode,
    message: string,
  ) {
    super(message);
    this.name = "SftpError";
  }
}

/** statusOf maps a failure to the SFTP status and message the client sees. */
export function statusOf(err: unknown): { status: SftpStatusCode; message: string } {
  if (err instanceof SftpError) return { status: err.status, message: err.message };
  const connect = ConnectError.from(err);
  switch (connect.code) {
    case Code.NotFound:
      return { status: SftpStatus.NO_SUCH_FILE, message: connect.rawMessage };
    case Code.PermissionDenied:
      return { status: SftpStatus.PERMISSION_DENIED, message: connect.rawMessage };
    case Code.Canceled:
    case Code.Unknown:
    case Code.Internal:
      return { status: SftpStatus.FAILURE, message: "failure" };
    default:
      return { status: SftpStatus.FAILURE, message: connect.rawMessage };
  }
}

/** Bytes of a file read per ReadFile message. */
const READ_CHUNK = 256 * 1024;
/** Bytes of an upload waiting for the daemon before WRITE replies are held back. */
const UPLOAD_HIGH_WATER = 4 * 1024 * 1024;
/** Idle uploads send an empty chunk this often (the daemon cuts silent uploads after 60 s). */
const UPLOAD_KEEPALIVE_MS = 20_000;

/**
 * FileReader serves READ requests for one open file from a single ReadFile stream, which it
 * reopens only when a read does not continue where the previous one stopped. At most the
 * stream's flow-control window is held in memory, never the whole file.
 */
export class FileReader {
  private controller: AbortController | undefined;
  private iterator: AsyncIterator<ReadFileResponse> | undefined;
  private position = -1;
  private buffer: Uint8Array = new Uint8Array(0);
  private eof = false;

  constructor(
    private readonly fs: Client<typeof FilesystemService>,
    /** The file's path in the sandbox. */
    readonly path: string,
    private readonly signal: AbortSignal,
  ) {}

  /** read returns up to length bytes at offset, short only at end of file; undefined at EOF. */
  async read(offset: number, length: number): Promise<Buffer | undefined> {
    if (this.iterator === undefined || offset !== this.position) this.reopen(offset);
    const parts: Uint8Array[] = [];
    let got = 0;
    while (got < length) {
      if (this.buffer.length === 0) {
        if (this.eof) break;
        const next = await this.next();
        if (next === undefined) {
          this.eof = true;
          break;
        }
        this.buffer = next;
        continue;
      }
      const take = Math.min(length - got, this.buffer.length);
      parts.push(this.buffer.subarray(0, take));
      this.buffer = this.buffer.subarray(take);
      got += take;
    }
    this.position = offset + got;
    return got === 0 ? undefined : Buffer.concat(parts);
  }

  /** close stops the stream. */
  close(): void {
    this.controller?.abort();
    this.iterator = undefined;
  }

  private async next(): Promise<Uint8Array | undefined> {
    const iterator = this.iterator;
    if (iterator === undefined) return undefined;
    for (;;) {
      let result: IteratorResult<ReadFileResponse>;
      try {
        result = await iterator.next();
      } catch (err) {
        // An offset past the end of the file is SFTP's EOF, not a failure.
        if (ConnectError.from(err).code === Code.OutOfRange) return undefined;
        throw err;
      }
      if (result.done) return undefined;
      if (result.value.data.length > 0) return result.value.data;
    }
  }

  private reopen(offset: number): void {
    this.close();
    const controller = new AbortController();
    this.controller = controller;
    const stream = this.fs.readFile(
      { path: this.path, offset: BigInt(offset), chunkSizeBytes: READ_CHUNK },
      { signal: AbortSignal.any([controller.signal, this.signal]) },
    );
    this.iterator = stream[Symbol.asyncIterator]();
    this.position = offset;
    this.buffer = new Uint8Array(0);
    this.eof = false;
  }
}

/** How a FileWriter treats the file it replaces. */
export interface FileWriterOptions {
  /** Permission bits for a new file (undefined = the daemon's default, or the old file's). */
  mode: number | undefined;
  /** Replace an existing file (false for O_EXCL opens). */
  overwrite: boolean;
  /** Bytes of the existing file that stay unless overwritten (0 when truncating or new). */
  keepBytes: number;
  /** O_APPEND: every write goes to the end, whatever its offset. */
  append: boolean;
}

/**
 * FileWriter turns the WRITE packets of one open handle into one UploadFile stream, fed as
 * the packets arrive (so a large file is never held whole). The file is replaced atomically
 * when the handle is closed. Writes must be sequential; bytes of an existing file that the
 * writes do not cover (before the first write, after the last) are copied from the old file,
 * and a gap past its end is filled with zeros.
 */
export class FileWriter {
  private readonly feed = new ByteFeed<MessageInitShape<typeof UploadFileRequestSchema>>(
    UPLOAD_HIGH_WATER,
  );
  private readonly controller = new AbortController();
  private call: Promise<unknown> | undefined;
  private failure: unknown;
  private keepalive: NodeJS.Timeout | undefined;
  private position = 0;
  /** Permission bits set with FSETSTAT while open, applied once the file exists. */
  pendingMode: number | undefined;

  constructor(
    private readonly fs: Client<typeof FilesystemService>,
    /** The file's path in the sandbox. */
    readonly path: string,
    private readonly options: FileWriterOptions,
    signal: AbortSignal,
  ) {
    signal.addEventListener("abort", () => this.abort(), { once: true });
  }

  /** size is the file's size as the client has written it so far. */
  get size(): number {
    return Math.max(this.position, this.options.keepBytes);
  }

  /** mode is the permission bits the file will get, if known. */
  get mode(): number | undefined {
    return this.pendingMode ?? this.options.mode;
  }

  /** write appends data, which must start where the previous write ended (or at the end). */
  async write(offset: number, data: Uint8Array): Promise<void> {
    this.throwIfFailed();
    if (this.call === undefined) {
      this.start();
      const first = this.options.append ? this.options.keepBytes : offset;
      await this.fill(first);
    }
    const at = this.options.append ? this.position : offset;
    if (at !== this.position) {
      throw new SftpError(
        SftpStatus.OP_UNSUPPORTED,
        `writes must be sequential: expected offset ${this.position}, got ${offset}`,
      );
    }
    this.feed.push({ message: { case: "data", value: data } }, data.length);
    this.position += data.length;
    await this.feed.room();
    this.throwIfFailed();
  }

  /** close finishes the upload (the file appears now) and applies a pending mode. */
  async close(): Promise<FileInfo | undefined> {
    this.throwIfFailed();
    if (this.call === undefined) {
      // Opened and closed without writes: nothing changes unless the file was to be emptied
      // or created.
      if (this.options.keepBytes > 0) {
        await this.applyMode();
        return undefined;
      }
      this.start();
    }
    await this.fill(this.options.keepBytes);
    this.feed.close();
    clearInterval(this.keepalive);
    try {
      await this.call;
    } finally {
      this.throwIfFailed();
    }
    return this.applyMode();
  }

  /** abort cancels the upload; the daemon leaves no partial file. */
  abort(): void {
    clearInterval(this.keepalive);
    this.feed.close();
    this.controller.abort();
  }

  private start(): void {
    this.feed.push(
      {
        message: {
          case: "header",
          value: {
            path: this.path,
            mode: this.options.mode,
            createParents: false,
            overwrite: this.options.overwrite,
          },
        },
      },
      0,
    );
    const call = this.fs.uploadFile(this.feed, { signal: this.controller.signal });
    this.call = call.catch((err: unknown) => {
      this.failure ??= err;
      this.feed.close();
    });
    this.keepalive = setInterval(
      () => this.feed.push({ message: { case: "data", value: new Uint8Array(0) } }, 0),
      UPLOAD_KEEPALIVE_MS,
    );
  }

  /** fill brings the upload to `until` bytes: old content while it lasts, zeros past it. */
  private async fill(until: number): Promise<void> {
    const fromOld = Math.min(until, this.options.keepBytes);
    if (this.position < fromOld) {
      const stream = this.fs.readFile(
        {
          path: this.path,
          offset: BigInt(this.position),
          length: BigInt(fromOld - this.position),
          chunkSizeBytes: READ_CHUNK,
        },
        { signal: this.controller.signal },
      );
      for await (const chunk of stream) {
        if (chunk.data.length === 0) continue;
        this.feed.push({ message: { case: "data", value: chunk.data } }, chunk.data.length);
        this.position += chunk.data.length;
        await this.feed.room();
        this.throwIfFailed();
      }
    }
    while (this.position < until) {
      const zeros = new Uint8Array(Math.min(until - this.position, READ_CHUNK));
      this.feed.push({ message: { case: "data", value: zeros } }, zeros.length);
      this.position += zeros.length;
      await this.feed.room();
      this.throwIfFailed();
    }
  }

  private async applyMode(): Promise<FileInfo | undefined> {
    if (this.pendingMode === undefined) return undefined;
    const { info } = await this.fs.setPermissions(
      { path: this.path, mode: this.pendingMode },
      { timeoutMs: 30_000 },
    );
    return info;
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }
}

/** S_IF* type bits for a FileType. */
function typeBits(type: FileType): number {
  switch (type) {
    case FileType.FILE:
      return 0o100000;
    case FileType.DIRECTORY:
      return 0o040000;
    case FileType.SYMLINK:
      return 0o120000;
    default:
      return 0;
  }
}

/** The SFTP attributes of an entry. */
export interface SftpAttrs {
  mode: number;
  size: number;
  atime: number;
  mtime: number;
}

/** attrsOf describes a FileInfo as SFTP ATTRS (no numeric uid/gid: the daemon gives names). */
export function attrsOf(info: FileInfo): SftpAttrs {
  const mtime = Number(info.modifyTime?.seconds ?? 0n);
  return {
    mode: typeBits(info.type) | info.mode,
    size: Number(info.sizeBytes),
    atime: mtime,
    mtime,
  };
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** longnameOf renders an entry the way `ls -l` does, for clients that print READDIR's longname. */
export function longnameOf(info: FileInfo, now = Date.now()): string {
  const type =
    { [FileType.DIRECTORY]: "d", [FileType.SYMLINK]: "l", [FileType.FILE]: "-" }[
      info.type as number
    ] ?? "?";
  const mode = info.mode;
  const bit = (mask: number, char: string) => ((mode & mask) !== 0 ? char : "-");
  const special = (exec: number, flag: number, set: string, unset: string) => {
    if ((mode & flag) === 0) return bit(exec, "x");
    return (mode & exec) !== 0 ? set : unset;
  };
  const perms =
    type +
    bit(0o400, "r") +
    bit(0o200, "w") +
    special(0o100, 0o4000, "s", "S") +
    bit(0o040, "r") +
    bit(0o020, "w") +
    special(0o010, 0o2000, "s", "S") +
    bit(0o004, "r") +
    bit(0o002, "w") +
    special(0o001, 0o1000, "t", "T");
  const mtimeMs = Number(info.modifyTime?.seconds ?? 0n) * 1000;
  const date = new Date(mtimeMs);
  const day = String(date.getUTCDate()).padStart(2, " ");
  const recent = Math.abs(now - mtimeMs) < 182 * 24 * 3600 * 1000;
  const when = recent
    ? `${String(date.getUTCHours()).padStart(2, "0")}:${String(date.getUTCMinutes()).padStart(2, "0")}`
    : ` ${date.getUTCFullYear()}`;
  const month = MONTHS[date.getUTCMonth()] ?? "Jan";
  return `${perms}    1 ${info.owner.padEnd(8)} ${info.group.padEnd(8)} ${String(info.sizeBytes).padStart(8)} ${month} ${day} ${when} ${info.name}`;
}
