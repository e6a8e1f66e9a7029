import * as fs from "node:fs";
import * as path from "node:path";
import { AsyncQueue, resourceExhausted } from "@cove/common";
import { errnoCode, fsError, notADirectory } from "./filesystem-errors.js";
import { type EntryType, entryType } from "./filesystem-info.js";

/** Most WatchDir streams at once. */
export const MAX_WATCHES = 64;
/** Events queued for a slow client before the rest are dropped and overflow is reported. */
export const MAX_QUEUED_EVENTS = 10_000;
/** Raw notifications are coalesced for this long, so a rename's two halves can be paired. */
const COALESCE_MS = 25;

/** The kind of change, as FileEventType in the contract. */
export type ChangeType = "create" | "write" | "remove" | "rename" | "chmod";

/** One message of a watch: start, a change, or an overflow notice. */
export type WatchMessage =
  | { kind: "start"; path: string }
  | { kind: "change"; type: ChangeType; path: string; entryType: EntryType | undefined; time: Date }
  | { kind: "overflow" };

/** What the watcher remembers of an entry, to tell writes from chmods and pair renames. */
interface Known {
  ino: number;
  type: EntryType;
  mtimeMs: number;
  ctimeMs: number;
}

/**
 * Watches counts and closes WatchDir streams: at most MAX_WATCHES at once, and closeAll()
 * ends every one of them (daemon shutdown).
 */
export class Watches {
  private readonly active = new Set<DirWatch>();

  constructor(private readonly limit = MAX_WATCHES) {}

  /** The number of open watches. */
  get size(): number {
    return this.active.size;
  }

  /**
   * watch validates the directory, puts the watch in place and returns its messages: start
   * first, then changes, until `signal` aborts, closeAll() runs or the directory is removed
   * (a remove message for it ends the stream).
   */
  async watch(
    dir: string,
    recursive: boolean,
    signal?: AbortSignal,
  ): Promise<AsyncIterable<WatchMessage>> {
    let st: fs.Stats;
    try {
      st = await fs.promises.stat(dir);
    } catch (err) {
      throw fsError(err, dir);
    }
    if (!st.isDirectory()) throw notADirectory(dir);
    if (this.active.size >= this.limit) {
      throw resourceExhausted(
        "STREAM_LIMIT_EXCEEDED",
        `at most ${this.limit} directory watches at once`,
        {
          limit: String(this.limit),
        },
      );
    }
    const w = new DirWatch(dir, st.ino, recursive, () => this.active.delete(w));
    this.active.add(w);
    try {
      w.start();
    } catch (err) {
      w.close();
      if (errnoCode(err) === "ENOSPC" || errnoCode(err) === "EMFILE") {
        throw resourceExhausted(
          "STREAM_LIMIT_EXCEEDED",
          `the kernel's inotify watch limit is reached watching ${dir}`,
          {
            path: dir,
          },
        );
      }
      throw fsError(err, dir);
    }
    if (signal?.aborted) w.close();
    signal?.addEventListener("abort", () => w.close(), { once: true });
    return w.messages();
  }

  /** closeAll ends every open watch. */
  closeAll(): void {
    for (const w of [...this.active]) w.close();
  }
}

/**
 * DirWatch watches one directory, or a tree with one fs.watch per directory (Node's recursive
 * fs.watch is not used: it cannot tell us which directory an inotify watch belongs to when
 * directories move). fs.watch only says "rename" or "change" for a name, so each coalesced
 * batch is compared with what is known of the entries: new names are creates, vanished ones
 * removes, a vanished inode that reappears under another name is a rename plus a create, a
 * changed mtime is a write and any other change a chmod.
 */
class DirWatch {
  private readonly watchers = new Map<string, fs.FSWatcher>();
  private readonly known = new Map<string, Known>();
  private readonly pending = new Set<string>();
  private readonly queue = new AsyncQueue<WatchMessage>();
  private flushTimer: NodeJS.Timeout | undefined;
  private overflowed = false;
  private closed = false;

  constructor(
    private readonly root: string,
    private readonly rootIno: number,
    private readonly recursive: boolean,
    private readonly onClose: () => void,
  ) {}

  /** start attaches the watchers synchronously and queues the start message. */
  start(): void {
    this.addDir(this.root, false, true);
    this.queue.push({ kind: "start", path: this.root });
  }

  /** messages yields the queued messages and closes the watch when iteration stops. */
  async *messages(): AsyncGenerator<WatchMessage> {
    try {
      yield* this.queue;
    } finally {
      this.close();
    }
  }

  /** close detaches every watcher and ends the message stream. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.flushTimer);
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
    this.queue.close();
    this.onClose();
  }

  private addDir(dir: string, announce: boolean, isRoot = false): void {
    let watcher: fs.FSWatcher;
    try {
      watcher = fs.watch(dir, { persistent: false }, (_event, name) => this.onRaw(dir, name));
    } catch (err) {
      if (isRoot) throw err;
      if (errnoCode(err) === "ENOSPC") this.emitOverflow();
      return;
    }
    watcher.on("error", () => {
      watcher.close();
      this.watchers.delete(dir);
    });
    this.watchers.set(dir, watcher);
    let names: fs.Dirent[] = [];
    try {
      names = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const d of names) {
      const child = path.join(dir, d.name);
      const snap = snapshot(child);
      if (!snap) continue;
      this.known.set(child, snap);
      if (announce) this.emit("create", child, snap.type);
      if (this.recursive && snap.type === "directory") this.addDir(child, announce);
    }
  }

  private onRaw(dir: string, name: string | Buffer | null): void {
    if (this.closed) return;
    if (name === null) {
      this.emitOverflow();
      return;
    }
    this.pending.add(path.join(dir, name.toString()));
    this.flushTimer ??= setTimeout(() => this.flush(), COALESCE_MS);
  }

  private flush(): void {
    this.flushTimer = undefined;
    if (this.closed) return;
    const rootNow = snapshot(this.root);
    if (!rootNow || rootNow.ino !== this.rootIno) {
      this.emit("remove", this.root, "directory");
      this.close();
      return;
    }
    const batch = [...this.pending].sort();
    this.pending.clear();
    const gone: Array<[string, Known]> = [];
    const appeared: Array<[string, Known]> = [];
    for (const p of batch) {
      const prev = this.known.get(p);
      const cur = snapshot(p);
      if (!prev && !cur) continue; // Created and removed within the window, or the dir itself.
      if (prev && !cur) {
        gone.push([p, prev]);
      } else if (!prev && cur) {
        appeared.push([p, cur]);
      } else if (prev && cur && prev.ino !== cur.ino) {
        gone.push([p, prev]);
        appeared.push([p, cur]);
      } else if (prev && cur) {
        if (cur.mtimeMs !== prev.mtimeMs && cur.type !== "directory")
          this.emit("write", p, cur.type);
        else if (cur.ctimeMs !== prev.ctimeMs && cur.mtimeMs === prev.mtimeMs)
          this.emit("chmod", p, cur.type);
        this.known.set(p, cur);
      }
    }
    const byIno = new Map(appeared.map(([p, k]) => [k.ino, p]));
    for (const [p, prev] of gone) {
      const to = byIno.get(prev.ino);
      if (to !== undefined && to !== p) this.emit("rename", p, prev.type);
      else if (!appeared.some(([q]) => q === p)) this.emit("remove", p, prev.type);
      this.forget(p, prev.type);
    }
    for (const [p, cur] of appeared) {
      this.known.set(p, cur);
      this.emit("create", p, cur.type);
      if (this.recursive && cur.type === "directory") this.addDir(p, true);
    }
  }

  /** forget drops an entry, and for a directory everything known or watched under it. */
  private forget(p: string, type: EntryType): void {
    this.known.delete(p);
    if (type !== "directory") return;
    const prefix = `${p}/`;
    for (const k of [...this.known.keys()]) if (k.startsWith(prefix)) this.known.delete(k);
    for (const [d, w] of [...this.watchers]) {
      if (d === p || d.startsWith(prefix)) {
        w.close();
        this.watchers.delete(d);
      }
    }
  }

  private emit(type: ChangeType, p: string, kind: EntryType | undefined): void {
    if (this.closed) return;
    if (this.overflowed && this.queue.size < MAX_QUEUED_EVENTS / 2) this.overflowed = false;
    if (this.overflowed) return;
    if (this.queue.size >= MAX_QUEUED_EVENTS) {
      this.emitOverflow();
      return;
    }
    this.queue.push({ kind: "change", type, path: p, entryType: kind, time: new Date() });
  }

  private emitOverflow(): void {
    if (this.overflowed || this.closed) return;
    this.overflowed = true;
    this.queue.push({ kind: "overflow" });
  }
}

function snapshot(p: string): Known | undefined {
  try {
    const st = fs.lstatSync(p);
    return { ino: st.ino, type: entryType(st), mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs };
  } catch {
    return undefined;
  }
}
