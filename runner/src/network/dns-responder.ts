// The runner's DNS responder: the only resolver sandboxes can reach (UDP and TCP port 53 on
// the sandbox network's gateway address, on the host). It answers by the policy of the
// sandbox that asks, known from the packet's source address:
// - allow-all and allow-public: forwarded to the runner's upstream resolver as they are;
// - domains: only names matching the allow-list are resolved (A records, through CNAME
//   chains); every other name is NXDOMAIN without any upstream query, AAAA has no answers,
//   and answers pointing at private, loopback, link-local or host addresses are dropped (DNS
//   rebinding). The addresses it answers are allowed for that sandbox before the answer is
//   sent, so the first connection never races the firewall;
// - anything else (block-all, CIDR lists, unknown sources): REFUSED.

import { randomInt } from "node:crypto";
import * as dgram from "node:dgram";
import * as net from "node:net";
import type { Logger } from "@cove/common";
import {
  buildQuery,
  buildResponse,
  DnsRcode,
  type DnsRecord,
  DnsType,
  parseMessage,
} from "./dns-message.js";
import { domainAllowed, type EgressPolicy, isPublicIpv4, usesDns } from "./egress-policy.js";

/** An address a domain answer allowed, with the TTL it was answered with. */
export interface AnsweredAddress {
  /** IPv4 address. */
  address: string;
  /** TTL in seconds. */
  ttl: number;
}

/** What the responder knows about the sandbox behind a source address. */
export interface DnsClient {
  /** The sandbox's policy. */
  policy: EgressPolicy;
  /** Allows connections to the addresses of a domain answer (resolves once enforced). */
  allow(addresses: AnsweredAddress[]): Promise<void>;
}

/** What a responder is built from. */
export interface DnsResponderOptions {
  /** Where to listen (the sandbox network's gateway, port 53). */
  listen: { host: string; port: number };
  /** The resolver that answers allowed names. */
  upstream: { host: string; port: number };
  /** The sandbox at a source address, or undefined. */
  client(sourceAddress: string): DnsClient | undefined;
  /** Whether an address belongs to the runner host (answers with it are dropped). */
  isHostAddress(address: string): boolean;
  /** Where it logs. */
  logger: Logger;
  /** How long to wait for the upstream, ms. Default 3000. */
  upstreamTimeoutMs?: number;
}

/** A running responder. */
export interface DnsResponder {
  /** close stops listening. */
  close(): Promise<void>;
}

/** Longest TTL handed to sandboxes, seconds (the firewall keeps addresses at least as long). */
export const MAX_ANSWER_TTL = 3600;
const MAX_IN_FLIGHT = 256;
const UDP_MAX = 512;

/** startDnsResponder listens on UDP and TCP and answers until closed. */
export async function startDnsResponder(options: DnsResponderOptions): Promise<DnsResponder> {
  const logger = options.logger.child({ component: "dns-responder" });
  const timeoutMs = options.upstreamTimeoutMs ?? 3000;
  let inFlight = 0;

  const answer = async (
    query: Buffer,
    source: string,
    maxBytes: number,
  ): Promise<Buffer | undefined> => {
    let message: ReturnType<typeof parseMessage>;
    try {
      message = parseMessage(query);
    } catch {
      return undefined;
    }
    if (message.response || message.opcode !== 0) return undefined;
    const reply = (rcode: number, answers: DnsRecord[] = []) =>
      buildResponse({
        id: message.id,
        recursionDesired: message.recursionDesired,
        question: message.question,
        rcode,
        answers,
        maxBytes,
      });
    const client = options.client(source);
    if (!client || !usesDns(client.policy)) return reply(DnsRcode.REFUSED);
    const { policy } = client;
    if (policy.mode !== "domains") {
      const raw = await ask(options.upstream, query, timeoutMs).catch(() => undefined);
      // The upstream sized its answer by the client's own query (EDNS), so it is relayed as is.
      return raw ?? reply(DnsRcode.SERVFAIL);
    }
    const name = message.question.name;
    if (!domainAllowed(policy.domains, name)) {
      logger.info("name refused", { source, name });
      return reply(DnsRcode.NXDOMAIN);
    }
    if (message.question.type !== DnsType.A && message.question.type !== DnsType.CNAME) {
      return reply(DnsRcode.NOERROR);
    }
    const upstream = await ask(
      options.upstream,
      buildQuery(randomInt(0, 0x10000), name, DnsType.A),
      timeoutMs,
    ).catch(() => undefined);
    if (!upstream) return reply(DnsRcode.SERVFAIL);
    let parsed: ReturnType<typeof parseMessage>;
    try {
      parsed = parseMessage(upstream);
    } catch {
      return reply(DnsRcode.SERVFAIL);
    }
    if (parsed.question.name !== name) return reply(DnsRcode.SERVFAIL);
    if (parsed.rcode !== DnsRcode.NOERROR)
      return reply(parsed.rcode === DnsRcode.NXDOMAIN ? DnsRcode.NXDOMAIN : DnsRcode.SERVFAIL);
    // Follow the CNAME chain from the question; keep only public addresses of names on it.
    const chain = new Set([name]);
    const kept: DnsRecord[] = [];
    const allowed: AnsweredAddress[] = [];
    for (const record of parsed.answers) {
      if (!chain.has(record.name)) continue;
      const ttl = Math.min(record.ttl, MAX_ANSWER_TTL);
      if (record.type === DnsType.CNAME && record.target !== undefined) {
        chain.add(record.target);
        kept.push({ ...record, ttl });
      } else if (record.type === DnsType.A && record.address) {
        if (!isPublicIpv4(record.address) || options.isHostAddress(record.address)) {
          logger.warn("answer dropped: it points at a private or host address", {
            source,
            name,
            address: record.address,
          });
          continue;
        }
        kept.push({ ...record, ttl });
        allowed.push({ address: record.address, ttl });
      }
    }
    if (allowed.length > 0) {
      try {
        await client.allow(allowed);
      } catch (err) {
        logger.error("answered addresses could not be allowed", { source, name, err });
        return reply(DnsRcode.SERVFAIL);
      }
    }
    return reply(DnsRcode.NOERROR, kept);
  };

  const udp = dgram.createSocket({ type: "udp4" });
  udp.on("message", (msg, rinfo) => {
    if (inFlight >= MAX_IN_FLIGHT) return;
    inFlight++;
    answer(msg, rinfo.address, UDP_MAX)
      .then((out) => {
        if (out) udp.send(out, rinfo.port, rinfo.address);
      })
      .catch((err) => logger.warn("query failed", { err }))
      .finally(() => inFlight--);
  });
  udp.on("error", (err) => logger.warn("udp socket error", { err }));
  await new Promise<void>((resolve, reject) => {
    udp.once("error", reject);
    udp.bind(options.listen.port, options.listen.host, () => {
      udp.off("error", reject);
      resolve();
    });
  });

  const tcp = net.createServer((socket) => {
    const source = (socket.remoteAddress ?? "").replace(/^::ffff:/, "");
    let buffered = Buffer.alloc(0);
    socket.setTimeout(10_000, () => socket.destroy());
    socket.on("error", () => socket.destroy());
    socket.on("data", (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length > 65_537) return socket.destroy();
      while (buffered.length >= 2) {
        const len = buffered.readUInt16BE(0);
        if (buffered.length < 2 + len) break;
        const query = buffered.subarray(2, 2 + len);
        buffered = buffered.subarray(2 + len);
        if (inFlight >= MAX_IN_FLIGHT) return socket.destroy();
        inFlight++;
        answer(Buffer.from(query), source, 65_535)
          .then((out) => {
            if (!out) return socket.destroy();
            const prefix = Buffer.alloc(2);
            prefix.writeUInt16BE(out.length);
            socket.write(Buffer.concat([prefix, out]));
          })
          .catch(() => socket.destroy())
          .finally(() => inFlight--);
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    tcp.once("error", reject);
    tcp.listen(options.listen.port, options.listen.host, () => {
      tcp.off("error", reject);
      resolve();
    });
  });
  logger.info("dns responder listening", { listen: options.listen, upstream: options.upstream });

  return {
    async close() {
      await new Promise<void>((resolve) => udp.close(() => resolve()));
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
    },
  };
}

/** ask sends a query to the upstream over UDP, and again over TCP when the answer was truncated. */
async function ask(
  upstream: { host: string; port: number },
  query: Buffer,
  timeoutMs: number,
): Promise<Buffer> {
  const answer = await askUdp(upstream, query, timeoutMs);
  if (parseMessage(answer).truncated) return askTcp(upstream, query, timeoutMs);
  return answer;
}

function askUdp(
  upstream: { host: string; port: number },
  query: Buffer,
  timeoutMs: number,
): Promise<Buffer> {
  const id = query.readUInt16BE(0);
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket(net.isIPv6(upstream.host) ? "udp6" : "udp4");
    const timer = setTimeout(() => done(new Error("upstream timed out")), timeoutMs);
    const done = (err?: Error, msg?: Buffer) => {
      clearTimeout(timer);
      socket.close();
      if (err || !msg) reject(err ?? new Error("no answer"));
      else resolve(msg);
    };
    socket.on("error", (err) => done(err));
    socket.on("message", (msg, rinfo) => {
      // Only the upstream's answer to this query counts (no spoofed replies from elsewhere).
      if (rinfo.port !== upstream.port || msg.length < 12 || msg.readUInt16BE(0) !== id) return;
      done(undefined, msg);
    });
    socket.send(query, upstream.port, upstream.host, (err) => {
      if (err) done(err);
    });
  });
}

function askTcp(
  upstream: { host: string; port: number },
  query: Buffer,
  timeoutMs: number,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(upstream.port, upstream.host);
    let buffered = Buffer.alloc(0);
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error("upstream timed out")));
    socket.on("error", reject);
    socket.on("connect", () => {
      const prefix = Buffer.alloc(2);
      prefix.writeUInt16BE(query.length);
      socket.write(Buffer.concat([prefix, query]));
    });
    socket.on("data", (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        resolve(buffered.subarray(2, 2 + buffered.readUInt16BE(0)));
        socket.end();
      }
    });
    socket.on("close", () => reject(new Error("upstream closed the connection")));
  });
}
