// The archive format: one tar stream whose first member, "cove-archive.json", describes the
// archive (what it was made from and how to bring it back); the members after it are the
// payload — the container's writable layer (mode "layer") or its whole flattened filesystem
// (mode "export"). `tar -tvf` lists it like any tar.
import * as fs from "node:fs";
import { PassThrough, type Readable } from "node:stream";

/** The first member's name. */
export const MANIFEST_NAME = "cove-archive.json";

/** What an archive says about itself. */
export interface ArchiveManifest {
  /** Always "cove-archive". */
  format: "cove-archive";
  /** Format version: 1. */
  version: 1;
  /** "layer": the overlay upper directory, restored over `imageId`; "export": the flattened filesystem. */
  mode: "layer" | "export";
  /** The archived sandbox. */
  sandboxId: string;
  /** The id (sha256:…) of the image the container ran; a layer archive needs exactly this image. */
  imageId: string;
  /** The image reference the sandbox was created from. */
  image: string;
  /** The container's image command, working directory and default user (an export restores them). */
  config: { cmd: string[]; workingDir: string; user: string; env: string[] };
  /** When the archive was made (RFC 3339). */
  createTime: string;
}

/** The longest manifest accepted, in bytes. */
const maxManifestBytes = 1024 * 1024;

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, "0")}\0`;
}

/** drained waits until the stream wants more, or is gone. */
function drained(stream: PassThrough): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off("drain", done);
      stream.off("close", done);
      resolve();
    };
    stream.on("drain", done);
    stream.on("close", done);
  });
}

/** manifestHeader encodes the manifest as the archive's first tar member (ustar header + padded body). */
export function manifestHeader(manifest: ArchiveManifest): Buffer {
  const body = Buffer.from(JSON.stringify(manifest));
  const header = Buffer.alloc(512);
  header.write(MANIFEST_NAME, 0, "utf8");
  header.write(octal(0o644, 8), 100);
  header.write(octal(0, 8), 108);
  header.write(octal(0, 8), 116);
  header.write(octal(body.length, 12), 124);
  header.write(octal(Math.floor(Date.parse(manifest.createTime) / 1000) || 0, 12), 136);
  header.fill(" ", 148, 156);
  header.write("0", 156);
  header.write("ustar\0", 257);
  header.write("00", 263);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148);
  const padded = Buffer.alloc(Math.ceil(body.length / 512) * 512);
  body.copy(padded);
  return Buffer.concat([header, padded]);
}

/**
 * readArchive reads the manifest off the front of an archive stream and returns it with the
 * rest of the stream (the payload tar) — without buffering more than the manifest.
 */
export async function readArchive(
  stream: Readable,
): Promise<{ manifest: ArchiveManifest; payload: Readable }> {
  const payload = new PassThrough({ highWaterMark: 1024 * 1024 });
  let head = Buffer.alloc(0);
  let needed = 512;
  let manifest: ArchiveManifest | undefined;
  const iterator = stream[Symbol.asyncIterator]();
  while (manifest === undefined) {
    const { value, done } = await iterator.next();
    if (done) throw new Error("the archive ends before its manifest");
    head = Buffer.concat([head, value as Buffer]);
    if (head.length < needed) continue;
    const name = head.subarray(0, 100).toString("utf8").replace(/\0.*$/s, "");
    if (name !== MANIFEST_NAME)
      throw new Error("not a Cove archive: the first member is not its manifest");
    const size = Number.parseInt(
      head.subarray(124, 136).toString("latin1").replace(/\0.*$/s, "").trim() || "0",
      8,
    );
    if (!Number.isFinite(size) || size <= 0 || size > maxManifestBytes)
      throw new Error("the archive's manifest is malformed");
    needed = 512 + Math.ceil(size / 512) * 512;
    if (head.length < needed) continue;
    const parsed = JSON.parse(head.subarray(512, 512 + size).toString("utf8")) as ArchiveManifest;
    if (parsed.format !== "cove-archive" || parsed.version !== 1)
      throw new Error("unknown archive format version");
    manifest = parsed;
  }
  const rest = head.subarray(needed);
  void (async () => {
    try {
      if (rest.length > 0 && !payload.write(rest)) await drained(payload);
      for (;;) {
        if (payload.destroyed) return;
        const { value, done } = await iterator.next();
        if (done) break;
        if (!payload.write(value)) await drained(payload);
      }
      payload.end();
    } catch (err) {
      payload.destroy(err as Error);
    }
  })();
  payload.on("close", () => {
    if (!stream.destroyed) stream.destroy();
  });
  return { manifest, payload };
}

/** parseManifestHeader reads the manifest member's size from its 512-byte header. */
function manifestSize(header: Buffer): number {
  const name = header.subarray(0, 100).toString("utf8").replace(/\0.*$/s, "");
  if (name !== MANIFEST_NAME)
    throw new Error("not a Cove archive: the first member is not its manifest");
  const size = Number.parseInt(
    header.subarray(124, 136).toString("latin1").replace(/\0.*$/s, "").trim() || "0",
    8,
  );
  if (!Number.isFinite(size) || size <= 0 || size > maxManifestBytes)
    throw new Error("the archive's manifest is malformed");
  return size;
}

function parseManifest(body: Buffer): ArchiveManifest {
  const parsed = JSON.parse(body.toString("utf8")) as ArchiveManifest;
  if (parsed.format !== "cove-archive" || parsed.version !== 1)
    throw new Error("unknown archive format version");
  return parsed;
}

/**
 * readManifestFromFd reads the manifest from an archive file open at offset 0 and leaves the
 * descriptor's offset at the payload, so a child process given the descriptor reads the payload.
 */
export function readManifestFromFd(fd: number): ArchiveManifest {
  const header = Buffer.alloc(512);
  if (fs.readSync(fd, header, 0, 512, null) !== 512)
    throw new Error("the archive ends before its manifest");
  const size = manifestSize(header);
  const body = Buffer.alloc(Math.ceil(size / 512) * 512);
  if (fs.readSync(fd, body, 0, body.length, null) !== body.length)
    throw new Error("the archive ends inside its manifest");
  return parseManifest(body.subarray(0, size));
}
