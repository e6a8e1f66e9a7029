// Where sandbox archives live: a local directory (the default, under the runner's data dir) or
// any S3-API store. Both write atomically — an object is visible only once it is complete — and
// stream in both directions, so an archive of any size passes through a runner in bounded memory.
import type { Readable } from "node:stream";
import { invalidArgument } from "@cove/common";

/** One finished object. */
export interface StoredObject {
  /** Its size in bytes. */
  size: number;
}

/** An object store holding archives by key. */
export interface ObjectStore {
  /** put streams `body` to `key`; the object appears only when all of it is stored (then it replaces any older one). */
  put(key: string, body: Readable, onBytes?: (bytes: number) => void): Promise<StoredObject>;
  /** get streams the object; NOT_FOUND-style `undefined` when there is none. */
  get(key: string): Promise<Readable | undefined>;
  /** head says whether the object exists and how large it is. */
  head(key: string): Promise<StoredObject | undefined>;
  /** delete removes the object (absent is fine) and any unfinished uploads of it. */
  delete(key: string): Promise<void>;
  /**
   * putWithFd, where a store offers it, lets `write` fill the object through a file descriptor
   * (a child process writes straight into it, no copy through the runner); atomic like put.
   */
  putWithFd?(key: string, write: (fd: number) => Promise<void>): Promise<StoredObject>;
  /** openFd, where a store offers it, opens the object for reading; undefined when absent. The caller closes it. */
  openFd?(key: string): Promise<number | undefined>;
}

/** A parsed archive_uri: which store and which key. */
export interface ArchiveLocation {
  /** "file" (the runner's archive directory) or "s3". */
  scheme: "file" | "s3";
  /** The S3 bucket ("" for file). */
  bucket: string;
  /** The object key (for file: the path relative to the archive directory). */
  key: string;
}

const keyPart = /^[A-Za-z0-9._=+-]+$/;

/**
 * parseArchiveUri accepts "file:///<archive dir>/<key>" (inside the runner's archive directory)
 * and "s3://<bucket>/<key>"; keys are "/"-separated parts of [A-Za-z0-9._=+-], none "." or "..".
 */
export function parseArchiveUri(uri: string, archiveDir: string): ArchiveLocation {
  const bad = (why: string) => invalidArgument("archive_uri", `${uri.slice(0, 300)}: ${why}`);
  const checkKey = (key: string) => {
    const parts = key.split("/");
    if (key.length === 0 || key.length > 1024) throw bad("the key must be 1–1024 characters");
    if (parts.some((p) => !keyPart.test(p) || p === "." || p === "..")) {
      throw bad('key parts are letters, digits and . _ = + -, never "." or ".."');
    }
    return key;
  };
  if (uri.startsWith("s3://")) {
    const rest = uri.slice("s3://".length);
    const slash = rest.indexOf("/");
    if (slash <= 0) throw bad("expected s3://bucket/key");
    const bucket = rest.slice(0, slash);
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket))
      throw bad("the bucket name is malformed");
    return { scheme: "s3", bucket, key: checkKey(rest.slice(slash + 1)) };
  }
  if (uri.startsWith("file://")) {
    const abs = uri.slice("file://".length);
    const root = archiveDir.endsWith("/") ? archiveDir : `${archiveDir}/`;
    if (!abs.startsWith(root))
      throw bad(`file archives must be under the runner's archive directory ${archiveDir}`);
    return { scheme: "file", bucket: "", key: checkKey(abs.slice(root.length)) };
  }
  throw bad('the scheme must be "file" or "s3"');
}
