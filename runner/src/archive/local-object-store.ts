// The local-directory object store: each object is a file under the archive directory, written
// to a temporary name in the same directory, fsynced and renamed into place (then the directory
// is fsynced), so a crash leaves either the old object or the new one, never half of one.
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { type Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ObjectStore, StoredObject } from "./object-store.js";

/** The suffix of unfinished files; they are removed before the next put of the same key. */
const partialSuffix = ".partial-";

/** LocalObjectStore keeps objects as files under one directory. */
export class LocalObjectStore implements ObjectStore {
  constructor(private readonly root: string) {}

  private file(key: string): string {
    const file = path.resolve(this.root, key);
    if (!file.startsWith(`${path.resolve(this.root)}/`))
      throw new Error(`key ${key} escapes the store`);
    return file;
  }

  async put(key: string, body: Readable, onBytes?: (bytes: number) => void): Promise<StoredObject> {
    const file = this.file(key);
    const dir = path.dirname(file);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    // Leftovers of a put that crashed.
    for (const name of fs.readdirSync(dir)) {
      if (name.startsWith(`${path.basename(file)}${partialSuffix}`))
        fs.rmSync(path.join(dir, name), { force: true });
    }
    const temp = `${file}${partialSuffix}${randomBytes(6).toString("hex")}`;
    let bytes = 0;
    const count = new Transform({
      transform(chunk: Buffer, _enc, done) {
        bytes += chunk.length;
        onBytes?.(bytes);
        done(null, chunk);
      },
    });
    const out = fs.createWriteStream(temp, { mode: 0o600, flags: "wx" });
    try {
      await pipeline(body, count, out);
      const fd = fs.openSync(temp, "r");
      try {
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(temp, file);
      const dirFd = fs.openSync(dir, "r");
      try {
        fs.fsyncSync(dirFd);
      } finally {
        fs.closeSync(dirFd);
      }
    } catch (err) {
      fs.rmSync(temp, { force: true });
      throw err;
    }
    return { size: bytes };
  }

  async get(key: string): Promise<Readable | undefined> {
    const file = this.file(key);
    try {
      const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
      return fs.createReadStream("", { fd, highWaterMark: 1024 * 1024 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
  }

  async head(key: string): Promise<StoredObject | undefined> {
    try {
      const stat = fs.lstatSync(this.file(key));
      return stat.isFile() ? { size: stat.size } : undefined;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    fs.rmSync(this.file(key), { force: true });
  }
}
