import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";

/** The environment variable that marks every process a command started, however it detaches. */
export const MARKER_VARIABLE = "COVE_PROCESS_MARK";

/** Whose processes a mark belongs to, and the cove-init binary that can reach them. */
export interface MarkOwner {
  /** The command's uid. */
  uid: number;
  /** The command's gid. */
  gid: number;
  /** Path of cove-init (it has --signal-marked); undefined outside a kit. */
  initPath: string | undefined;
}

/** marked lists processes whose environment carries MARKER_VARIABLE=mark (all uids, as root). */
export function marked(mark: string): number[] {
  const needle = Buffer.from(`${MARKER_VARIABLE}=${mark}\0`);
  const out: number[] = [];
  for (const entry of safeReaddir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/environ`).includes(needle)) out.push(Number(entry));
    } catch {
      // exited, or not ours to read
    }
  }
  return out;
}

function safeReaddir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

/** descendants lists every process below `pid` (children, grandchildren, …) from /proc. */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  let entries: string[] = [];
  try {
    entries = fs.readdirSync("/proc");
  } catch {
    return [];
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // exited meanwhile
    }
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ppid = Number(fields[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(entry));
    children.set(ppid, list);
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const next = queue.shift() as number;
    for (const child of children.get(next) ?? []) {
      out.push(child);
      queue.push(child);
    }
  }
  return out;
}

/**
 * signalTree sends a signal to a process group led by `pid`, to every descendant that left the
 * group (setsid, daemonizing shells) and, given the command's mark, to every process that
 * inherited it even after being orphaned and reparented — so nothing a command started
 * survives its kill.
 */
export function signalTree(
  pid: number,
  signal: NodeJS.Signals,
  mark?: string,
  owner?: MarkOwner,
): void {
  const tree = [...new Set([...descendants(pid), ...(mark ? marked(mark) : [])])];
  // Without CAP_SYS_PTRACE the daemon cannot read another uid's /proc/<pid>/environ: a
  // helper running as the command's uid finds and signals the marked processes instead.
  if (mark && owner?.initPath && owner.uid !== process.getuid?.()) {
    spawnSync(
      owner.initPath,
      ["--signal-marked", `${MARKER_VARIABLE}=${mark}`, String(os.constants.signals[signal])],
      {
        uid: owner.uid,
        gid: owner.gid,
        stdio: "ignore",
        timeout: 5_000,
      },
    );
  }
  try {
    process.kill(-pid, signal);
  } catch {
    // the group may already be gone; descendants may not be
  }
  for (const child of tree) {
    try {
      process.kill(child, signal);
    } catch {
      // already exited
    }
  }
  try {
    process.kill(pid, signal);
  } catch {
    // already exited
  }
}
