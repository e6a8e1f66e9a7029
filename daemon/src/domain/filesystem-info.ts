import * as fs from "node:fs";
import * as path from "node:path";
import { invalidArgument } from "@cove/common";

/** The kind of a filesystem entry, as FileType in the contract. */
export type EntryType = "file" | "directory" | "symlink" | "other";

/** One filesystem entry as the toolbox describes it (FileInfo without the transport). */
export interface FileEntry {
  /** Last path element; "/" for the root. */
  name: string;
  /** Absolute, normalized path (symlinks in it not resolved). */
  path: string;
  /** Kind of entry. */
  type: EntryType;
  /** Size in bytes. */
  sizeBytes: bigint;
  /** Permission bits including setuid, setgid and sticky (low 12 bits). */
  mode: number;
  /** Owning user's name, or the decimal uid. */
  owner: string;
  /** Owning group's name, or the decimal gid. */
  group: string;
  /** Last content modification time. */
  modifyTime: Date;
  /** Raw target of a symlink; empty for other types. */
  symlinkTarget: string;
}

/** entryType classifies fs.Stats or fs.Dirent. */
export function entryType(s: fs.Stats | fs.Dirent): EntryType {
  if (s.isFile()) return "file";
  if (s.isDirectory()) return "directory";
  if (s.isSymbolicLink()) return "symlink";
  return "other";
}

/** specialKind names a non-regular, non-directory entry for error metadata ("fifo", "socket", …). */
export function specialKind(s: fs.Stats): string {
  if (s.isFIFO()) return "fifo";
  if (s.isSocket()) return "socket";
  if (s.isCharacterDevice()) return "char_device";
  if (s.isBlockDevice()) return "block_device";
  return "other";
}

/** How long a parsed /etc/passwd or /etc/group stays cached, in ms. */
const ID_CACHE_MS = 2_000;

/**
 * IdNames maps numeric uids and gids to names (and group names to gids) from /etc/passwd and
 * /etc/group, cached for a couple of seconds so listing thousands of entries reads them once.
 */
export class IdNames {
  private users = new Map<number, string>();
  private groups = new Map<number, string>();
  private groupIds = new Map<string, number>();
  private loadedAt = -Infinity;

  constructor(
    private readonly passwdPath = "/etc/passwd",
    private readonly groupPath = "/etc/group",
  ) {}

  /** userName returns the name of a uid, or the decimal uid when it has none. */
  userName(uid: number): string {
    this.refresh();
    return this.users.get(uid) ?? String(uid);
  }

  /** groupName returns the name of a gid, or the decimal gid when it has none. */
  groupName(gid: number): string {
    this.refresh();
    return this.groups.get(gid) ?? String(gid);
  }

  /** groupId resolves a group name or decimal gid; unknown names are INVALID_ARGUMENT naming `field`. */
  groupId(nameOrId: string, field = "group"): number {
    if (/^\d+$/.test(nameOrId)) return Number(nameOrId);
    this.refresh(true);
    const gid = this.groupIds.get(nameOrId);
    if (gid === undefined)
      throw invalidArgument(field, `no such group "${nameOrId}" in the sandbox`);
    return gid;
  }

  private refresh(force = false): void {
    const now = Date.now();
    if (!force && now - this.loadedAt < ID_CACHE_MS) return;
    this.loadedAt = now;
    this.users = parseIds(this.passwdPath);
    this.groups = parseIds(this.groupPath);
    this.groupIds = new Map([...this.groups].map(([id, name]) => [name, id]));
  }
}

function parseIds(file: string): Map<number, string> {
  const out = new Map<number, string>();
  let text = "";
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    return out;
  }
  for (const line of text.split("\n")) {
    const [name, , id] = line.split(":");
    if (!name || id === undefined || !/^\d+$/.test(id)) continue;
    if (!out.has(Number(id))) out.set(Number(id), name);
  }
  return out;
}

/** toEntry describes `filePath` from its stats (lstat unless the caller followed links). */
export async function toEntry(filePath: string, st: fs.Stats, ids: IdNames): Promise<FileEntry> {
  const type = entryType(st);
  let symlinkTarget = "";
  if (type === "symlink") {
    try {
      symlinkTarget = await fs.promises.readlink(filePath);
    } catch {
      // Swapped between lstat and readlink: describe it without a target.
    }
  }
  return {
    name: filePath === "/" ? "/" : path.basename(filePath),
    path: filePath,
    type,
    sizeBytes: BigInt(st.size),
    mode: st.mode & 0o7777,
    owner: ids.userName(st.uid),
    group: ids.groupName(st.gid),
    modifyTime: st.mtime,
    symlinkTarget,
  };
}
