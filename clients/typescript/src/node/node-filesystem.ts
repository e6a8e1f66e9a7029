// sandbox.fs in Node: everything of the shared FileSystem, plus local paths and Node streams as
// upload sources, Buffers back from downloadFile, downloads straight to a local file, and
// downloadFileStream as a Node Readable (which is also an async iterable).
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

/** What uploadFile accepts in Node: a local file path, bytes, a Blob, or any byte stream. */
export type NodeUploadSource = string | UploadSource | NodeJS.ReadableStream;

/** The filesystem API of one sandbox, in Node. */
export class NodeFileSystem extends FileSystem {
  /**
   * uploadFile uploads a local file (by path), a Buffer, or a stream to remotePath. Files and
   * streams are read as they are sent, so a 1 GiB file never sits in memory.
   */
  override async uploadFile(
    source: NodeUploadSource,
    remotePath: string,
    options: UploadOptions = {},
  ): Promise<FileInfo> {
    if (typeof source === "string") {
      const size = (await fs.promises.stat(source)).size;
      const stream = fs.createReadStream(source, { highWaterMark: 1024 * 1024 });
      try {
        return await super.uploadFile(stream, remotePath, { size, ...options });
      } finally {
        stream.destroy();
      }
    }
    return super.uploadFile(source as UploadSource, remotePath, options);
  }

  /** uploadFiles uploads several files one after another (Daytona's FileUpload list). */
  async uploadFiles(
    files: { source: NodeUploadSource; destination: string }[],
    options: UploadOptions = {},
  ): Promise<FileInfo[]> {
    const out: FileInfo[] = [];
    for (const f of files) out.push(await this.uploadFile(f.source, f.destination, options));
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
