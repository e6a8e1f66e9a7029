// A private network lab for egress tests. Nothing here touches a real address:
// - one network namespace (the "lab") joined to the host by a veth pair (198.51.100.0/30),
//   holding every target as an address of its own: public ones (203.0.113.0/24, TEST-NET-3),
//   a private one (10.203.113.10), a CGNAT one (100.64.113.10), the metadata address
//   (169.254.169.254) and an IPv6 one (2001:db8:113::10), each serving a tiny HTTP server that
//   answers with the address it was reached on;
// - a policy-routing rule that sends every packet from the sandbox bridge into the lab, so even
//   a broken firewall could only ever reach the lab;
// - a DNS server on 127.0.0.1 (the runner's upstream) with the test's names, which records
//   every name it was asked.
// close() removes the rule, the routing table, the namespace (and with it the veth) and stops
// the servers.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes, randomInt } from "node:crypto";
import * as dgram from "node:dgram";
import {
  buildResponse,
  DnsRcode,
  type DnsRecord,
  DnsType,
  parseMessage,
} from "../src/network/dns-message.js";

/** The lab's targets. */
export const LAB = {
  /** Public, the one policies allow. */
  publicAllowed: "203.0.113.10",
  /** Public, never allowed by name or CIDR. */
  publicOther: "203.0.113.20",
  /** RFC 1918. */
  private: "10.203.113.10",
  /** Carrier-grade NAT range. */
  cgnat: "100.64.113.10",
  /** Cloud metadata (link-local). */
  metadata: "169.254.169.254",
  /** IPv6 (documentation range). */
  ipv6: "2001:db8:113::10",
  /** The host's end of the lab link (an address of the host itself). */
  hostSide: "198.51.100.1",
  /** The lab's end of the lab link. */
  labSide: "198.51.100.2",
} as const;

/** The sandbox subnet tests give the runner's network. */
export const SANDBOX_SUBNET = "198.51.100.64/26";

/** A running lab. */
export interface NetLab {
  /** The DNS server's address for the runner ("127.0.0.1:port"). */
  dnsUpstream: string;
  /** Every name the DNS server was asked, lowercase. */
  dnsQueries: string[];
  /** Names the DNS server answers: name → A addresses, or a CNAME target. */
  dnsRecords: Map<string, { a?: string[]; cname?: string }>;
  /** close removes everything the lab created. */
  close(): Promise<void>;
}

function sh(args: string[], allowFail = false): string {
  const [cmd = "", ...rest] = args;
  const r = spawnSync(cmd, rest, { encoding: "utf8" });
  if (r.status !== 0 && !allowFail) throw new Error(`${args.join(" ")}: ${r.stderr || r.stdout}`);
  return r.stdout;
}

/**
 * startNetLab builds the lab: packets from `sandboxSubnet` that arrive on `bridge` (the
 * sandbox network's bridge) are routed into it.
 */
export async function startNetLab(
  bridge: string,
  sandboxSubnet = SANDBOX_SUBNET,
  link: { hostSide: string; labSide: string } = LAB,
): Promise<NetLab> {
  const id = randomBytes(3).toString("hex");
  const ns = `cvt-lab-${id}`;
  const hostIf = `cvth${id}`;
  const labIf = `cvtl${id}`;
  const table = String(20_000 + randomInt(0, 9_000));
  let server: ChildProcess | undefined;
  let dns: dgram.Socket | undefined;
  const cleanups: Array<() => void> = [];
  const close = async () => {
    server?.kill("SIGKILL");
    for (const c of cleanups.reverse()) c();
    if (dns) await new Promise<void>((r) => dns?.close(() => r()));
  };
  try {
    sh(["ip", "netns", "add", ns]);
    cleanups.push(() => sh(["ip", "netns", "del", ns], true));
    sh(["ip", "link", "add", hostIf, "type", "veth", "peer", "name", labIf]);
    cleanups.push(() => sh(["ip", "link", "del", hostIf], true));
    sh(["ip", "link", "set", labIf, "netns", ns]);
    sh(["ip", "addr", "add", `${link.hostSide}/30`, "dev", hostIf]);
    sh(["ip", "link", "set", hostIf, "up"]);
    const inLab = (...args: string[]) => sh(["ip", "netns", "exec", ns, ...args]);
    inLab("ip", "link", "set", "lo", "up");
    inLab("ip", "addr", "add", `${link.labSide}/30`, "dev", labIf);
    inLab("ip", "link", "set", labIf, "up");
    for (const address of [
      LAB.publicAllowed,
      LAB.publicOther,
      LAB.private,
      LAB.cgnat,
      LAB.metadata,
    ]) {
      inLab("ip", "addr", "add", `${address}/32`, "dev", "lo");
    }
    inLab("ip", "-6", "addr", "add", `${LAB.ipv6}/128`, "dev", "lo");
    inLab("ip", "route", "add", "default", "via", link.hostSide);
    // Everything the sandboxes send goes into the lab, whatever its destination. Only packets
    // arriving from the bridge: the host's own replies (from the gateway address, which lies in
    // the subnet) must still go back to the sandboxes.
    sh(["ip", "route", "add", "default", "via", link.labSide, "dev", hostIf, "table", table]);
    cleanups.push(() => sh(["ip", "route", "flush", "table", table], true));
    const rule = ["from", sandboxSubnet, "iif", bridge, "lookup", table, "priority", table];
    sh(["ip", "rule", "add", ...rule]);
    cleanups.push(() => sh(["ip", "rule", "del", ...rule], true));

    server = spawn(
      "ip",
      [
        "netns",
        "exec",
        ns,
        process.execPath,
        "-e",
        "require('http').createServer((q,s)=>s.end('lab '+q.socket.localAddress.replace(/^::ffff:/,''))).listen(80,'::',()=>console.log('ready'))",
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    await new Promise<void>((resolve, reject) => {
      server?.stdout?.once("data", () => resolve());
      server?.once("exit", (code) => reject(new Error(`lab server exited ${code}`)));
    });

    const dnsQueries: string[] = [];
    const dnsRecords = new Map<string, { a?: string[]; cname?: string }>();
    const socket = dgram.createSocket("udp4");
    dns = socket;
    socket.on("message", (msg, rinfo) => {
      let q: ReturnType<typeof parseMessage>;
      try {
        q = parseMessage(msg);
      } catch {
        return;
      }
      dnsQueries.push(q.question.name);
      const answers: DnsRecord[] = [];
      let name = q.question.name;
      for (let hops = 0; hops < 8; hops++) {
        const entry = dnsRecords.get(name);
        if (!entry) break;
        if (entry.cname) {
          answers.push({ name, type: DnsType.CNAME, klass: 1, ttl: 30, target: entry.cname });
          name = entry.cname;
          continue;
        }
        for (const address of entry.a ?? [])
          answers.push({ name, type: DnsType.A, klass: 1, ttl: 30, address });
        break;
      }
      const known = dnsRecords.has(q.question.name);
      const out = buildResponse({
        id: q.id,
        recursionDesired: q.recursionDesired,
        question: q.question,
        rcode: known ? DnsRcode.NOERROR : DnsRcode.NXDOMAIN,
        answers: q.question.type === DnsType.A ? answers : [],
      });
      socket.send(out, rinfo.port, rinfo.address);
    });
    await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", () => resolve()));
    return { dnsUpstream: `127.0.0.1:${socket.address().port}`, dnsQueries, dnsRecords, close };
  } catch (err) {
    await close();
    throw err;
  }
}
