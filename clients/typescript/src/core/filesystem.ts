// sandbox.fs: files in the sandbox. Uploads stream in chunks over the client-streaming
// UploadFile (so a 1 GiB source never sits in memory); browsers, which cannot client-stream, use
// the unary WriteFile (up to 8 MiB). Downloads read the file in bounded ranges (ReadFile with
// offset/length, one call per range): Connect-ES 2.3 keeps every message of a server stream
// alive until its call ends (connectrpc/connect-es#1524), so one call for a whole file would
// hold the whole file; a range per call bounds that to one range, in Node and browsers alike.

import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import {
  FileEventType,
  type FileInfo as FileInfoMessage,
  FileType,
} from "@cove/gen-ts/cove/toolbox/v1/filesystem_pb.js";
import type {
  ReadFileResponse,
  UploadFileRequest,
  UploadFileRequestSchema,
  WatchDirResponse,
} from "@cove/gen-ts/cove/toolbox/v1/filesystem_service_pb.js";
import { modeOf, seconds, toDate } from "./convert.js";
import { type CoveError, isRetryable, sdkError, toCoveError } from "./errors.js";
import { concatBytes } from "./output.js";
import { backoffMs } from "./rpc.js";
import type { Toolbox } from "./toolbox.js";

/** Bytes per UploadFile message (the daemon accepts up to 4 MiB). */
const UPLOAD_CHUNK_BYTES = 1024 * 1024;
/** Bytes per ReadFile call of a download (the most one call can pin in memory). */
export const DEFAULT_RANGE_BYTES = 8 * 1024 * 1024;
/** Bytes per ReadFile message. */
const READ_CHUNK_BYTES = 1024 * 1024;
/** The most WriteFile takes (browsers' upload limit). */
const WRITE_FILE_MAX_BYTES = 8 * 1024 * 1024;

/** A file or directory in the sandbox (Daytona's FileInfo, plus path and type). */
export interface FileInfo {
  /** name is the last path element. */
  name: string;
  /** path is the absolute path. */
  path: string;
  /** isDir is true for directories. */
  isDir: boolean;
  /** type is "file", "directory", "symlink" or "other". */
  type: "file" | "directory" | "symlink" | "other";
  /** size is the size in bytes. */
  size: number;
  /** mode is the permission bits as a number (e.g. 0o644). */
  mode: number;
  /** permissions is the mode as an octal string, e.g. "0644". */
  permissions: string;
  /** owner is the owning user. */
  owner: string;
  /** group is the owning group. */
  group: string;
  /** modTime is the last modification time. */
  modTime: Date | undefined;
  /** symlinkTarget is a symlink's raw target, else "". */
  symlinkTarget: string;
}

/** Progress of an upload or download. */
export interface TransferProgress {
  /** transferredBytes is how many bytes have moved so far. */
  transferredBytes: number;
  /** totalBytes is the total, when known. */
  totalBytes: number | undefined;
}

/**
 * What uploadFile accepts: the file's content as bytes, a Blob or a byte stream. Never a
 * string — text is not guessed to be content or a local path (encode it; in Node a local file
 * goes through uploadFileFromPath).
 */
export type UploadSource =
  | Uint8Array
  | Blob
  | AsyncIterable<Uint8Array>
  | ReadableStream<Uint8Array>;

/** Options of uploadFile. */
export interface UploadOptions {
  /** onProgress is called as bytes are handed to the connection. */
  onProgress?: (progress: TransferProgress) => void;
  /** mode is the new file's permission bits. */
  mode?: string | number;
  /** overwrite replaces an existing file (default true). */
  overwrite?: boolean;
  /** timeout in seconds bounds the whole upload; default none (an idle deadline applies). */
  timeout?: number;
  /** size is the source's size when the SDK cannot know it (for progress and an early check). */
  size?: number;
  /** signal cancels the upload (nothing is left behind). */
  signal?: AbortSignal;
}

/** Options of downloadFile and downloadFileStream. */
export interface DownloadOptions {
  /** onProgress is called after each chunk. */
  onProgress?: (progress: TransferProgress) => void;
  /** rangeBytes is the bytes per ReadFile call; default 8 MiB. */
  rangeBytes?: number;
  /** signal cancels the download. */
  signal?: AbortSignal;
}

/** A match of findFiles (Daytona's Match). */
export interface Match {
  /** file is the absolute path. */
  file: string;
  /** line is the 1-based line number. */
  line: number;
  /** column is the 1-based byte column of the first match. */
  column: number;
  /** content is the matching line. */
  content: string;
}

/** The outcome of replaceInFiles for one file (Daytona's ReplaceResult). */
export interface ReplaceResult {
  /** file is the absolute path. */
  file: string;
  /** success is true when the file was processed. */
  success: boolean;
  /** replacements is how many occurrences were replaced. */
  replacements: number;
  /** error describes the failure, when success is false. */
  error?: string;
}

/** A change seen by watch(). */
export interface FileEvent {
  /** type is what happened. */
  type: "create" | "write" | "remove" | "rename" | "chmod" | "overflow";
  /** path is the entry's absolute path ("" for overflow: rescan). */
  path: string;
  /** isDir is true when the entry is a directory. */
  isDir: boolean;
}

/** The filesystem API of one sandbox (sandbox.fs). */
export class FileSystem {
  constructor(protected readonly toolbox: Toolbox) {}

  /**
   * uploadFile writes content (bytes, a Blob or a byte stream) to remotePath atomically
   * (readers see the old or the new file), creating parent directories; streamed in 1 MiB
   * messages. A string is a TypeError: encode text first (`new TextEncoder().encode(text)`,
   * `Buffer.from(text)`); a local file goes through `uploadFileFromPath` (Node).
   */
  async uploadFile(
    source: UploadSource,
    remotePath: string,
    options: UploadOptions = {},
  ): Promise<FileInfo> {
    assertUploadContent(source, "uploadFile");
    const total = options.size ?? sizeOf(source);
    if (!this.toolbox.platform.clientStreaming)
      return this.writeWhole(source, remotePath, total, options);
    const controller = new AbortController();
    const onAbort = () => controller.abort();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    let idle = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const arm = () => {
      if (timer !== undefined) clearTimeout(timer);
      timer = setTimeout(() => {
        idle = true;
        controller.abort();
      }, this.toolbox.policy.idleTimeoutMs);
    };
    const header: MessageInitShape<typeof UploadFileRequestSchema> = {
      message: {
        case: "header",
        value: {
          path: remotePath,
          mode: options.mode === undefined ? undefined : modeOf(options.mode),
          overwrite: options.overwrite,
          sizeBytes: total === undefined ? undefined : BigInt(total),
        },
      },
    };
    async function* requests(): AsyncGenerator<MessageInitShape<typeof UploadFileRequestSchema>> {
      yield header;
      let sent = 0;
      for await (const chunk of rechunk(chunksOf(source), UPLOAD_CHUNK_BYTES)) {
        arm();
        yield { message: { case: "data", value: chunk } } satisfies Partial<UploadFileRequest>;
        sent += chunk.length;
        options.onProgress?.({ transferredBytes: sent, totalBytes: total });
      }
      arm();
    }
    try {
      arm();
      const res = await this.toolbox.fs.uploadFile(requests(), {
        signal: controller.signal,
        headers: this.toolbox.headers,
        timeoutMs: options.timeout ? options.timeout * 1000 : undefined,
      });
      return fileInfo(res.info);
    } catch (err) {
      if (idle) {
        throw sdkError(
          Code.DeadlineExceeded,
          `upload of ${remotePath}: no progress for ${this.toolbox.policy.idleTimeoutMs} ms`,
          {
            reason: "STREAM_IDLE",
            cause: err,
          },
        );
      }
      throw toCoveError(err);
    } finally {
      if (timer !== undefined) clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
    }
  }

  /** writeWhole uploads with one unary WriteFile (browsers; at most 8 MiB). */
  private async writeWhole(
    source: UploadSource,
    remotePath: string,
    total: number | undefined,
    options: UploadOptions,
  ): Promise<FileInfo> {
    if (total !== undefined && total > WRITE_FILE_MAX_BYTES) {
      throw sdkError(
        Code.InvalidArgument,
        `this runtime cannot stream uploads; at most ${WRITE_FILE_MAX_BYTES} bytes (got ${total})`,
        {
          reason: "PAYLOAD_TOO_LARGE",
        },
      );
    }
    const parts: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of chunksOf(source)) {
      size += chunk.length;
      if (size > WRITE_FILE_MAX_BYTES) {
        throw sdkError(
          Code.InvalidArgument,
          `this runtime cannot stream uploads; at most ${WRITE_FILE_MAX_BYTES} bytes`,
          {
            reason: "PAYLOAD_TOO_LARGE",
          },
        );
      }
      parts.push(chunk);
    }
    const data = concatBytes(parts, size);
    const res = await this.toolbox.call(
      {
        idempotent: true,
        timeoutMs: options.timeout ? options.timeout * 1000 : undefined,
        signal: options.signal,
      },
      (a) =>
        this.toolbox.fs.writeFile(
          {
            path: remotePath,
            data,
            mode: options.mode === undefined ? undefined : modeOf(options.mode),
            overwrite: options.overwrite,
          },
          a,
        ),
    );
    options.onProgress?.({ transferredBytes: size, totalBytes: size });
    return fileInfo(res.info);
  }

  /**
   * downloadFileStream reads a file as a stream of chunks with flat memory: one bounded
   * ReadFile range at a time, resumed from the current offset after a transient failure. The
   * file's size and modification time are taken from the first range; a file that changes
   * during the download fails with CoveConflictError (reason FILE_CHANGED).
   */
  downloadFileStream(
    remotePath: string,
    options: DownloadOptions = {},
  ): AsyncGenerator<Uint8Array, void, undefined> {
    return this.readRanges(remotePath, options);
  }

  /** downloadFile reads a whole file into memory (use downloadFileStream for big files). */
  async downloadFile(remotePath: string, options: DownloadOptions = {}): Promise<Uint8Array> {
    let out: Uint8Array | undefined;
    let at = 0;
    for await (const chunk of this.readRanges(remotePath, options, (size) => {
      out = new Uint8Array(size);
    })) {
      const target = out as Uint8Array;
      target.set(chunk, at);
      at += chunk.length;
    }
    return out ?? new Uint8Array();
  }

  private async *readRanges(
    remotePath: string,
    options: DownloadOptions,
    onSize?: (size: number) => void,
  ): AsyncGenerator<Uint8Array, void, undefined> {
    const rangeBytes = Math.max(64 * 1024, options.rangeBytes ?? DEFAULT_RANGE_BYTES);
    let pos = 0;
    let size: number | undefined;
    let version: string | undefined;
    let failures = 0;
    while (size === undefined || pos < size) {
      const before = pos;
      try {
        const stream = this.toolbox.stream<ReadFileResponse>(
          {
            what: `read of ${remotePath}`,
            signal: options.signal,
            timeoutMs: this.toolbox.policy.timeoutMs,
          },
          (a) =>
            this.toolbox.fs.readFile(
              {
                path: remotePath,
                offset: BigInt(pos),
                length: BigInt(rangeBytes),
                chunkSizeBytes: READ_CHUNK_BYTES,
              },
              a,
            ),
        );
        for await (const m of stream) {
          if (m.info) {
            const v = `${m.info.sizeBytes}:${m.info.modifyTime?.seconds}:${m.info.modifyTime?.nanos}`;
            if (version === undefined) {
              version = v;
              size = Number(m.info.sizeBytes);
              onSize?.(size);
            } else if (v !== version) {
              throw changed(remotePath);
            }
          }
          if (m.data.length === 0) continue;
          if (Number(m.offset) !== pos || size === undefined || pos + m.data.length > size) {
            throw changed(remotePath);
          }
          pos += m.data.length;
          options.onProgress?.({ transferredBytes: pos, totalBytes: size });
          yield m.data;
        }
        if (size !== undefined && pos < size && pos === before) throw changed(remotePath);
        failures = 0;
      } catch (err) {
        const e: CoveError = toCoveError(err);
        if (!isRetryable(e) || ++failures > this.toolbox.policy.retries) throw e;
        await new Promise((r) => setTimeout(r, backoffMs(failures - 1, e.retryAfterMs)));
      }
    }
  }

  /** listFiles lists a directory's entries (all pages). */
  async listFiles(path: string): Promise<FileInfo[]> {
    const out: FileInfo[] = [];
    let pageToken = "";
    do {
      const res = await this.toolbox.call({ idempotent: true }, (a) =>
        this.toolbox.fs.listDir({ path, depth: 1, pageToken }, a),
      );
      out.push(...res.entries.map(fileInfo));
      pageToken = res.nextPageToken;
    } while (pageToken);
    return out;
  }

  /** createFolder creates a directory and any missing parents (mode default "755"). */
  async createFolder(path: string, mode?: string | number): Promise<FileInfo> {
    const res = await this.toolbox.call({ idempotent: true }, (a) =>
      this.toolbox.fs.makeDir(
        { path, parents: true, mode: mode === undefined ? undefined : modeOf(mode) },
        a,
      ),
    );
    return fileInfo(res.info);
  }

  /** deleteFile removes a file, symlink or (with recursive, non-empty) directory. */
  async deleteFile(path: string, recursive = false): Promise<void> {
    await this.toolbox.call({ idempotent: false }, (a) =>
      this.toolbox.fs.remove({ path, recursive }, a),
    );
  }

  /** moveFiles renames or moves an entry (destination is the new path). */
  async moveFiles(source: string, destination: string, overwrite = false): Promise<FileInfo> {
    const res = await this.toolbox.call({ idempotent: false }, (a) =>
      this.toolbox.fs.move({ source, destination, overwrite }, a),
    );
    return fileInfo(res.info);
  }

  /** getFileDetails describes one entry (symlinks not followed unless asked). */
  async getFileDetails(path: string, followSymlinks = false): Promise<FileInfo> {
    const res = await this.toolbox.call({ idempotent: true }, (a) =>
      this.toolbox.fs.stat({ path, followSymlinks }, a),
    );
    return fileInfo(res.info);
  }

  /** findFiles searches file contents under path for a literal pattern (or a regex). */
  async findFiles(
    path: string,
    pattern: string,
    options: {
      regex?: boolean;
      ignoreCase?: boolean;
      includeGlob?: string;
      maxResults?: number;
      timeout?: number;
    } = {},
  ): Promise<Match[]> {
    const res = await this.toolbox.call(
      { idempotent: true, timeoutMs: options.timeout ? options.timeout * 1000 + 5000 : undefined },
      (a) =>
        this.toolbox.fs.findInFiles(
          {
            path,
            pattern,
            regex: options.regex ?? false,
            ignoreCase: options.ignoreCase ?? false,
            includeGlob: options.includeGlob ?? "",
            maxResults: options.maxResults ?? 0,
            timeout: options.timeout ? seconds(options.timeout) : undefined,
          },
          a,
        ),
    );
    return res.matches.map((m) => ({
      file: m.path,
      line: Number(m.lineNumber),
      column: Number(m.column),
      content: m.line,
    }));
  }

  /** searchFiles finds entries under path whose relative path matches a glob ("**\/*.ts"). */
  async searchFiles(
    path: string,
    pattern: string,
    maxResults = 0,
  ): Promise<{ files: string[]; incomplete: boolean }> {
    const res = await this.toolbox.call({ idempotent: true }, (a) =>
      this.toolbox.fs.searchFiles({ path, glob: pattern, maxResults }, a),
    );
    return { files: res.paths, incomplete: res.incomplete };
  }

  /** replaceInFiles replaces pattern with newValue in each file; each file has its own result. */
  async replaceInFiles(
    files: string[],
    pattern: string,
    newValue: string,
    options: { regex?: boolean; ignoreCase?: boolean } = {},
  ): Promise<ReplaceResult[]> {
    const res = await this.toolbox.call({ idempotent: false }, (a) =>
      this.toolbox.fs.replaceInFiles(
        {
          paths: files,
          pattern,
          replacement: newValue,
          regex: options.regex ?? false,
          ignoreCase: options.ignoreCase ?? false,
        },
        a,
      ),
    );
    return res.results.map((r) => ({
      file: r.path,
      success: r.errorReason === "",
      replacements: Number(r.replacementCount),
      ...(r.errorReason ? { error: `${r.errorReason}: ${r.errorMessage}` } : {}),
    }));
  }

  /** setFilePermissions changes mode ("755" or 0o755), owner and/or group. */
  async setFilePermissions(
    path: string,
    permissions: { mode?: string | number; owner?: string; group?: string; recursive?: boolean },
  ): Promise<FileInfo> {
    const res = await this.toolbox.call({ idempotent: true }, (a) =>
      this.toolbox.fs.setPermissions(
        {
          path,
          mode: permissions.mode === undefined ? undefined : modeOf(permissions.mode),
          owner: permissions.owner ?? "",
          group: permissions.group ?? "",
          recursive: permissions.recursive ?? false,
        },
        a,
      ),
    );
    return fileInfo(res.info);
  }

  /**
   * watch calls callback for every change under a directory and resolves, once the watch is in
   * place, with the function that stops it. Errors after that go to onError.
   */
  async watch(
    path: string,
    callback: (event: FileEvent) => void,
    options: { recursive?: boolean; onError?: (err: CoveError) => void } = {},
  ): Promise<() => void> {
    const controller = new AbortController();
    const stream = this.toolbox.stream<WatchDirResponse>(
      { what: `watch of ${path}`, signal: controller.signal },
      (a) => this.toolbox.fs.watchDir({ path, recursive: options.recursive ?? false }, a),
    );
    const first = await stream.next();
    if (first.done) throw sdkError(Code.Unavailable, `watch of ${path} ended before it started`);
    void (async () => {
      try {
        for await (const m of stream) {
          if (m.event.case === "file") {
            const e = m.event.value;
            callback({
              type: EVENT_TYPES[e.type] ?? "write",
              path: e.path,
              isDir: e.entryType === FileType.DIRECTORY,
            });
          } else if (m.event.case === "overflow") {
            callback({ type: "overflow", path: "", isDir: false });
          }
        }
      } catch (err) {
        if (!controller.signal.aborted) options.onError?.(toCoveError(err));
      }
    })();
    return () => controller.abort();
  }
}

const EVENT_TYPES: Partial<Record<FileEventType, FileEvent["type"]>> = {
  [FileEventType.CREATE]: "create",
  [FileEventType.WRITE]: "write",
  [FileEventType.REMOVE]: "remove",
  [FileEventType.RENAME]: "rename",
  [FileEventType.CHMOD]: "chmod",
};

const TYPES: Record<FileType, FileInfo["type"]> = {
  [FileType.UNSPECIFIED]: "other",
  [FileType.FILE]: "file",
  [FileType.DIRECTORY]: "directory",
  [FileType.SYMLINK]: "symlink",
  [FileType.OTHER]: "other",
};

/** fileInfo converts the contract's FileInfo. */
export function fileInfo(info: FileInfoMessage | undefined): FileInfo {
  const mode = info?.mode ?? 0;
  return {
    name: info?.name ?? "",
    path: info?.path ?? "",
    isDir: info?.type === FileType.DIRECTORY,
    type: TYPES[info?.type ?? FileType.UNSPECIFIED],
    size: Number(info?.sizeBytes ?? 0),
    mode,
    permissions: mode.toString(8).padStart(4, "0"),
    owner: info?.owner ?? "",
    group: info?.group ?? "",
    modTime: toDate(info?.modifyTime),
    symlinkTarget: info?.symlinkTarget ?? "",
  };
}

function changed(path: string): CoveError {
  return sdkError(Code.FailedPrecondition, `${path} changed during the download`, {
    reason: "FILE_CHANGED",
    metadata: { path },
  });
}

/**
 * assertUploadContent throws a TypeError unless source is upload content: a Uint8Array
 * (Buffer), a Blob, an async iterable of bytes or a ReadableStream. A string is refused with a
 * hint, so that neither text nor a path is ever taken for the other.
 */
export function assertUploadContent(
  source: unknown,
  method: string,
): asserts source is UploadSource {
  if (typeof source === "string") {
    throw new TypeError(
      `${method} takes the file's content (Uint8Array or Buffer, Blob, or a byte stream), not a string: ` +
        "encode text first (new TextEncoder().encode(text) or Buffer.from(text)); " +
        "to upload a local file by its path use uploadFileFromPath(localPath, remotePath) (Node)",
    );
  }
  const ok =
    source instanceof Uint8Array ||
    (typeof Blob !== "undefined" && source instanceof Blob) ||
    (typeof source === "object" &&
      source !== null &&
      (Symbol.asyncIterator in source ||
        typeof (source as ReadableStream).getReader === "function"));
  if (!ok) {
    const what = source === null ? "null" : Array.isArray(source) ? "an array" : typeof source;
    throw new TypeError(
      `${method} takes the file's content (Uint8Array or Buffer, Blob, or a byte stream), not ${what}`,
    );
  }
}

function sizeOf(source: UploadSource): number | undefined {
  if (source instanceof Uint8Array) return source.length;
  if (typeof Blob !== "undefined" && source instanceof Blob) return source.size;
  return undefined;
}

/** chunksOf turns any upload source into an async iterable of byte chunks. */
export async function* chunksOf(source: UploadSource): AsyncGenerator<Uint8Array> {
  if (source instanceof Uint8Array) {
    yield source;
    return;
  }
  if (typeof Blob !== "undefined" && source instanceof Blob) {
    yield* chunksOf(source.stream());
    return;
  }
  if (Symbol.asyncIterator in source) {
    for await (const chunk of source as AsyncIterable<Uint8Array | string>) {
      yield typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk;
    }
    return;
  }
  const reader = (source as unknown as ReadableStream<Uint8Array>).getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    reader.releaseLock();
  }
}

/**
 * rechunk re-cuts chunks into messages of at most `size` bytes, joining small ones (Node file
 * streams read 64 KiB) so that a 1 GiB upload is ~1000 messages, not 16000.
 */
export async function* rechunk(
  chunks: AsyncIterable<Uint8Array>,
  size: number,
): AsyncGenerator<Uint8Array> {
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  for await (const chunk of chunks) {
    let rest = chunk;
    if (pendingBytes === 0 && rest.length === size) {
      yield rest;
      continue;
    }
    while (rest.length > 0) {
      const take = Math.min(size - pendingBytes, rest.length);
      pending.push(rest.subarray(0, take));
      pendingBytes += take;
      rest = rest.subarray(take);
      if (pendingBytes === size) {
        yield concatBytes(pending, pendingBytes);
        pending = [];
        pendingBytes = 0;
      }
    }
  }
  if (pendingBytes > 0) yield concatBytes(pending, pendingBytes);
}
