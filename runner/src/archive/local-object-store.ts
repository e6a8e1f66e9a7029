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
    this.removePartials(file);
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
      this.syncDir(dir);
    } catch (err) {
      fs.rmSync(temp, { force: true });
      throw err;
    }
    return { size: bytes };
  }

  async putWithFd(key: string, write: (fd: number) => Promise<void>): Promise<StoredObject> {
    const file = this.file(key);
    const dir = path.dirname(file);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.removePartials(file);
    const temp = `${file}${partialSuffix}${randomBytes(6).toString("hex")}`;
    const fd = fs.openSync(temp, "wx", 0o600);
    try {
      await write(fd);
      fs.fsyncSync(fd);
      const size = fs.fstatSync(fd).size;
      fs.closeSync(fd);
      fs.renameSync(temp, file);
      this.syncDir(dir);
      return { size };
    } catch (err) {
      try {
        fs.closeSync(fd);
      } catch {
        // closed already
      }
      fs.rmSync(temp, { force: true });
      throw err;
    }
  }

  async openFd(key: string): Promise<number | undefined> {
    try {
      return fs.openSync(this.file(key), fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
  }

  private removePartials(file: string): void {
    const dir = path.dirname(file);
    for (const name of fs.readdirSync(dir)) {
      if (name.startsWith(`${path.basename(file)}${partialSuffix}`))
        fs.rmSync(path.join(dir, name), { force: true });
    }
  }

  private syncDir(dir: string): void {
    const dirFd = fs.openSync(dir, "r");
    try {
      fs.fsyncSync(dirFd);
    } finally {
      fs.closeSync(dirFd);
    }
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
