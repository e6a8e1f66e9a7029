import * as fs from "node:fs";
import * as path from "node:path";
import { type EntryType, entryType } from "./filesystem-info.js";

/** One entry met by walkSorted. */
export interface WalkEntry {
  /** Absolute path. */
  path: string;
  /** Path relative to the walk's root, "/"-separated. */
  rel: string;
  /** Kind of entry as readdir reports it (symlinks are not followed). */
  type: EntryType;
  /** 1 for the root's direct children. */
  depth: number;
}

/** Options of walkSorted. */
export interface WalkOptions {
  /** How many levels to descend (1 = direct children only). */
  maxDepth: number;
  /** Only entries whose path sorts after this absolute path are yielded (for paging). */
  after?: string;
  /** descend decides whether to enter a directory (by relative path); default always. */
  descend?: (rel: string) => boolean;
  /** Stops the walk (without error) once Date.now() passes it; check `timedOut` after. */
  deadline?: number;
}

/** The outcome flags of a walk, filled in while it runs. */
export interface WalkState {
  /** The walk stopped at its deadline. */
  timedOut: boolean;
}

/**
 * walkSorted yields every entry under `root` (not the root itself) in byte order of the full
 * path, lazily, without following symlinks. It sorts each directory's children together with
 * their subtrees keyed "name/", which gives exact full-path byte order; with `after`, subtrees
 * that lie wholly before it are skipped without being read. Directories that cannot be read
 * below the root are skipped; reading the root itself throws.
 */
export async function* walkSorted(
  root: string,
  options: WalkOptions,
  state: WalkState = { timedOut: false },
): AsyncGenerator<WalkEntry> {
  const after = options.after === undefined ? undefined : Buffer.from(options.after);
  yield* walkDir(root, "", 1, true);

  async function* walkDir(
    dir: string,
    rel: string,
    depth: number,
    isRoot: boolean,
  ): AsyncGenerator<WalkEntry> {
    let dirents: fs.Dirent[];
    try {
      dirents = await fs.promises.readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (isRoot) throw err;
      return;
    }
    type Item = { key: Buffer; name: string; subtree: boolean; type: EntryType };
    const items: Item[] = [];
    for (const d of dirents) {
      const type = entryType(d);
      items.push({ key: Buffer.from(d.name), name: d.name, subtree: false, type });
      if (type === "directory" && depth < options.maxDepth) {
        items.push({ key: Buffer.from(`${d.name}/`), name: d.name, subtree: true, type });
      }
    }
    items.sort((a, b) => Buffer.compare(a.key, b.key));
    for (const item of items) {
      if (options.deadline !== undefined && Date.now() > options.deadline) {
        state.timedOut = true;
        return;
      }
      const full = dir === "/" ? `/${item.name}` : `${dir}/${item.name}`;
      const childRel = rel === "" ? item.name : `${rel}/${item.name}`;
      if (item.subtree) {
        if (after && subtreeBefore(`${full}/`, after)) continue;
        if (options.descend && !options.descend(childRel)) continue;
        yield* walkDir(full, childRel, depth + 1, false);
        if (state.timedOut) return;
      } else if (!after || Buffer.compare(Buffer.from(full), after) > 0) {
        yield { path: full, rel: childRel, type: item.type, depth };
      }
    }
  }
}

/** subtreeBefore says whether every path starting with `prefix` sorts before `after`. */
function subtreeBefore(prefix: string, after: Buffer): boolean {
  const p = Buffer.from(prefix);
  if (after.length >= p.length && after.subarray(0, p.length).equals(p)) return false;
  return Buffer.compare(p, after) < 0;
}

/** relativeTo returns `target` relative to `root`, "/"-separated. */
export function relativeTo(root: string, target: string): string {
  return path.relative(root, target).split(path.sep).join("/");
}
