import * as fs from "node:fs";

/** A TCP socket listening in the daemon's network namespace. */
export interface ListeningSocket {
  /** The port, 1..65535. */
  port: number;
  /** The local address listened on, e.g. "0.0.0.0", "127.0.0.1", "::". */
  address: string;
  /** 4 for /proc/net/tcp, 6 for /proc/net/tcp6. */
  family: 4 | 6;
  /** The socket's inode, which links it to the processes holding it. */
  inode: number;
  /** A process holding the socket, or 0 when none can be seen. */
  pid: number;
  /** That process's name from /proc/<pid>/comm, or "". */
  processName: string;
}

/** The TCP state number of LISTEN in /proc/net/tcp. */
const TCP_LISTEN = "0A";

/**
 * parseProcNetTcp reads the listening sockets out of the text of /proc/net/tcp (family 4) or
 * /proc/net/tcp6 (family 6). Addresses are in the kernel's host byte order (little endian
 * here, as on every platform the daemon runs on).
 */
export function parseProcNetTcp(
  text: string,
  family: 4 | 6,
): Array<Pick<ListeningSocket, "port" | "address" | "family" | "inode">> {
  const sockets: Array<Pick<ListeningSocket, "port" | "address" | "family" | "inode">> = [];
  for (const line of text.split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
    const [local, state, inode] = [fields[1], fields[3], fields[9]];
    if (local === undefined || state !== TCP_LISTEN || inode === undefined) continue;
    const [hexAddress, hexPort] = local.split(":");
    if (hexAddress === undefined || hexPort === undefined) continue;
    const address = family === 4 ? formatHexIPv4(hexAddress) : formatHexIPv6(hexAddress);
    sockets.push({ port: Number.parseInt(hexPort, 16), address, family, inode: Number(inode) });
  }
  return sockets;
}

/** formatHexIPv4 turns /proc's "0100007F" into "127.0.0.1". */
export function formatHexIPv4(hex: string): string {
  return wordBytes(hex).join(".");
}

/** formatHexIPv6 turns /proc's 32 hex digits into RFC 5952 text ("::1", "::ffff:10.0.0.1"). */
export function formatHexIPv6(hex: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < 32; i += 8) bytes.push(...wordBytes(hex.slice(i, i + 8)));
  const isMapped =
    bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  if (isMapped) return `::ffff:${bytes.slice(12).join(".")}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  // The longest run of two or more zero groups becomes "::" (the first one on ties).
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const text = groups.map((g) => g.toString(16));
  if (bestStart < 0) return text.join(":");
  const head = text.slice(0, bestStart).join(":");
  const tail = text.slice(bestStart + bestLength).join(":");
  return `${head}::${tail}`;
}

/** One 32-bit word of /proc's hex, in host (little-endian) order, as its four address bytes. */
function wordBytes(hex: string): number[] {
  const bytes: number[] = [];
  for (let i = 6; i >= 0; i -= 2) bytes.push(Number.parseInt(hex.slice(i, i + 2), 16));
  return bytes;
}

/** readListeningSockets parses both /proc/net files, without looking up processes. */
export function readListeningSockets(procRoot = "/proc"): ListeningSocket[] {
  const sockets: ListeningSocket[] = [];
  for (const [file, family] of [
    ["tcp", 4],
    ["tcp6", 6],
  ] as const) {
    let text: string;
    try {
      text = fs.readFileSync(`${procRoot}/net/${file}`, "utf8");
    } catch {
      continue; // e.g. no IPv6 in this kernel
    }
    for (const s of parseProcNetTcp(text, family)) sockets.push({ ...s, pid: 0, processName: "" });
  }
  return sockets.sort((a, b) => a.port - b.port || compareText(a.address, b.address));
}

/**
 * listListeningPorts lists listening TCP sockets sorted by port then address, each with a
 * process holding it where /proc/<pid>/fd is readable to the daemon.
 */
export async function listListeningPorts(procRoot = "/proc"): Promise<ListeningSocket[]> {
  const sockets = readListeningSockets(procRoot);
  const owners = await findSocketOwners(new Set(sockets.map((s) => s.inode)), procRoot);
  for (const s of sockets) {
    const owner = owners.get(s.inode);
    if (owner !== undefined) {
      s.pid = owner.pid;
      s.processName = owner.name;
    }
  }
  return sockets;
}

/** findSocketOwners maps socket inodes to the lowest pid holding each (as far as visible). */
async function findSocketOwners(
  inodes: Set<number>,
  procRoot: string,
): Promise<Map<number, { pid: number; name: string }>> {
  const owners = new Map<number, { pid: number; name: string }>();
  if (inodes.size === 0) return owners;
  let entries: string[];
  try {
    entries = await fs.promises.readdir(procRoot);
  } catch {
    return owners;
  }
  const pids = entries.filter((e) => /^\d+$/.test(e)).map(Number);
  pids.sort((a, b) => a - b);
  for (const pid of pids) {
    if (owners.size === inodes.size) break;
    let fds: string[];
    try {
      fds = await fs.promises.readdir(`${procRoot}/${pid}/fd`);
    } catch {
      continue; // another user's process, or gone
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = await fs.promises.readlink(`${procRoot}/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const match = /^socket:\[(\d+)\]$/.exec(target);
      if (match === null) continue;
      const inode = Number(match[1]);
      if (!inodes.has(inode) || owners.has(inode)) continue;
      owners.set(inode, { pid, name: await processName(procRoot, pid) });
    }
  }
  return owners;
}

async function processName(procRoot: string, pid: number): Promise<string> {
  try {
    return (await fs.promises.readFile(`${procRoot}/${pid}/comm`, "utf8")).trim();
  } catch {
    return "";
  }
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * dialAddresses lists the addresses to try, in order, to reach a port from inside the sandbox:
 * the loopback address of each wildcard listener, or the specific address listened on, then
 * 127.0.0.1 and ::1 in case /proc did not show the listener.
 */
export function dialAddresses(port: number, sockets: ListeningSocket[]): string[] {
  const addresses: string[] = [];
  const add = (a: string) => {
    if (!addresses.includes(a)) addresses.push(a);
  };
  for (const s of sockets) {
    if (s.port !== port) continue;
    if (s.address === "0.0.0.0") add("127.0.0.1");
    else if (s.address === "::") add("::1");
    else if (s.address.startsWith("::ffff:") && s.address.includes(".")) add(s.address.slice(7));
    else add(s.address);
  }
  add("127.0.0.1");
  add("::1");
  return addresses;
}
