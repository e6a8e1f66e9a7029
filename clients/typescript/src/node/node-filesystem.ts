// sandbox.fs in Node: everything of the shared FileSystem, plus Node streams as upload content,
// uploads of local files by path (uploadFileFromPath — the only way a path is read), Buffers
// back from downloadFile, downloads straight to a local file, and downloadFileStream as a Node
// Readable (which is also an async iterable).
import * as fs from "node:fs";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  type DownloadOptions,
  type FileInfo,
  FileSystem,
  type UploadOptions,
  type UploadSource,
} from "../core/filesystem.js";

/** What uploadFile accepts in Node: bytes (Buffer), a Blob, or any byte stream — never a string. */
export type NodeUploadSource = UploadSource | NodeJS.ReadableStream;

/** One file of uploadFiles: content (`source`) or a local file (`localPath`), and where it goes. */
export type NodeFileUpload =
  | { source: NodeUploadSource; destination: string }
  | { localPath: string; destination: string };

/** The filesystem API of one sandbox, in Node. */
export class NodeFileSystem extends FileSystem {
  /**
   * uploadFile uploads content — a Buffer, a Blob or a stream (e.g. fs.createReadStream) — to
   * remotePath; streams are read as they are sent. A string is a TypeError: use
   * uploadFileFromPath for a local file, Buffer.from(text) for text.
   */
  override async uploadFile(
    source: NodeUploadSource,
    remotePath: string,
    options: UploadOptions = {},
  ): Promise<FileInfo> {
    return super.uploadFile(source as UploadSource, remotePath, options);
  }

  /**
   * uploadFileFromPath uploads the local file at localPath to remotePath, read as it is sent
   * (a 1 GiB file never sits in memory). A missing local file rejects with Node's ENOENT
   * error before anything is sent.
   */
  async uploadFileFromPath(
    localPath: string,
    remotePath: string,
    options: UploadOptions = {},
  ): Promise<FileInfo> {
    if (typeof localPath !== "string") {
      throw new TypeError(
        "uploadFileFromPath takes a local path (a string); use uploadFile for content",
      );
    }
    const size = (await fs.promises.stat(localPath)).size;
    const stream = fs.createReadStream(localPath, { highWaterMark: 1024 * 1024 });
    try {
      return await super.uploadFile(stream, remotePath, { size, ...options });
    } finally {
      stream.destroy();
    }
  }

  /** uploadFiles uploads several files one after another: content or local paths, explicitly. */
  async uploadFiles(files: NodeFileUpload[], options: UploadOptions = {}): Promise<FileInfo[]> {
    const out: FileInfo[] = [];
    for (const f of files) {
      out.push(
        "localPath" in f
          ? await this.uploadFileFromPath(f.localPath, f.destination, options)
          : await this.uploadFile(f.source, f.destination, options),
      );
    }
    return out;
  }

  /**
   * downloadFile returns a file's bytes as a Buffer, or, given a local path, streams the file
   * into it (flat memory) and resolves when it is written.
   */
  override downloadFile(remotePath: string, options?: DownloadOptions): Promise<Buffer>;
  override downloadFile(
    remotePath: string,
    localPath: string,
    options?: DownloadOptions,
  ): Promise<void>;
  override async downloadFile(
    remotePath: string,
    localPathOrOptions?: string | DownloadOptions,
    maybeOptions: DownloadOptions = {},
    // biome-ignore lint/suspicious/noConfusingVoidType: the implementation of a void overload.
  ): Promise<Buffer | void> {
    if (typeof localPathOrOptions === "string") {
      await pipeline(
        this.downloadFileStream(remotePath, maybeOptions),
        fs.createWriteStream(localPathOrOptions),
      );
      return;
    }
    const bytes = await super.downloadFile(remotePath, localPathOrOptions ?? {});
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  }

  /** downloadFileStream returns the file as a Node Readable; memory stays flat. */
  override downloadFileStream(
    remotePath: string,
    options: DownloadOptions = {},
  ): Readable & AsyncGenerator<Uint8Array, void, undefined> {
    return Readable.from(super.downloadFileStream(remotePath, options), {
      objectMode: false,
      highWaterMark: 1024 * 1024,
    }) as Readable & AsyncGenerator<Uint8Array, void, undefined>;
  }
}
