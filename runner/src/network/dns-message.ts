// The small part of the DNS wire format (RFC 1035) the runner's responder needs: read a
// query's question, read an answer's records (with name compression), and write a response
// with A and CNAME records. Anything malformed throws; the responder then answers FORMERR or
// drops the packet.

/** Record types the responder looks at. */
export const DnsType = { A: 1, CNAME: 5, AAAA: 28, ANY: 255 } as const;

/** Response codes the responder sends. */
export const DnsRcode = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 } as const;

/** The question of a message. */
export interface DnsQuestion {
  /** The name asked for, lowercase, without a trailing dot. */
  name: string;
  /** QTYPE. */
  type: number;
  /** QCLASS (1 = IN). */
  klass: number;
}

/** One resource record of an answer section. */
export interface DnsRecord {
  /** Owner name, lowercase, no trailing dot. */
  name: string;
  /** TYPE. */
  type: number;
  /** CLASS. */
  klass: number;
  /** TTL in seconds. */
  ttl: number;
  /** The IPv4 address of an A record. */
  address?: string;
  /** The target of a CNAME record. */
  target?: string;
}

/** A parsed message: the header fields that matter, the question and the answers. */
export interface DnsMessage {
  /** Message id. */
  id: number;
  /** QR: true for a response. */
  response: boolean;
  /** OPCODE (0 = standard query). */
  opcode: number;
  /** TC: truncated. */
  truncated: boolean;
  /** RD: recursion desired. */
  recursionDesired: boolean;
  /** RCODE. */
  rcode: number;
  /** The first question (the responder accepts exactly one). */
  question: DnsQuestion;
  /** Answer records (A and CNAME decoded; others kept with type only). */
  answers: DnsRecord[];
}

const MAX_POINTERS = 32;

/** readName reads a possibly compressed name at offset; returns it and the offset after it. */
function readName(buf: Buffer, offset: number): { name: string; next: number } {
  const labels: string[] = [];
  let pos = offset;
  let next = -1;
  let jumps = 0;
  for (;;) {
    const len = buf[pos];
    if (len === undefined) throw new Error("name runs past the message");
    if ((len & 0xc0) === 0xc0) {
      const low = buf[pos + 1];
      if (low === undefined) throw new Error("truncated name pointer");
      if (next < 0) next = pos + 2;
      if (++jumps > MAX_POINTERS) throw new Error("name pointer loop");
      pos = ((len & 0x3f) << 8) | low;
      continue;
    }
    if (len > 63) throw new Error("bad label length");
    pos += 1;
    if (len === 0) break;
    if (pos + len > buf.length) throw new Error("label runs past the message");
    labels.push(buf.toString("latin1", pos, pos + len).toLowerCase());
    pos += len;
  }
  const name = labels.join(".");
  if (name.length > 253) throw new Error("name too long");
  return { name, next: next >= 0 ? next : pos };
}

/** parseMessage reads a DNS message: header, first question, answer records. */
export function parseMessage(buf: Buffer): DnsMessage {
  if (buf.length < 12) throw new Error("shorter than a DNS header");
  const flags = buf.readUInt16BE(2);
  const qdcount = buf.readUInt16BE(4);
  const ancount = buf.readUInt16BE(6);
  if (qdcount !== 1) throw new Error(`expected one question, got ${qdcount}`);
  const q = readName(buf, 12);
  if (q.next + 4 > buf.length) throw new Error("truncated question");
  const question = {
    name: q.name,
    type: buf.readUInt16BE(q.next),
    klass: buf.readUInt16BE(q.next + 2),
  };
  let pos = q.next + 4;
  const answers: DnsRecord[] = [];
  for (let i = 0; i < ancount; i++) {
    const owner = readName(buf, pos);
    pos = owner.next;
    if (pos + 10 > buf.length) throw new Error("truncated record");
    const type = buf.readUInt16BE(pos);
    const klass = buf.readUInt16BE(pos + 2);
    const ttl = buf.readUInt32BE(pos + 4);
    const rdlength = buf.readUInt16BE(pos + 8);
    pos += 10;
    if (pos + rdlength > buf.length) throw new Error("truncated record data");
    const record: DnsRecord = { name: owner.name, type, klass, ttl };
    if (type === DnsType.A && rdlength === 4)
      record.address = [...buf.subarray(pos, pos + 4)].join(".");
    if (type === DnsType.CNAME) record.target = readName(buf, pos).name;
    answers.push(record);
    pos += rdlength;
  }
  return {
    id: buf.readUInt16BE(0),
    response: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    truncated: (flags & 0x0200) !== 0,
    recursionDesired: (flags & 0x0100) !== 0,
    rcode: flags & 0xf,
    question,
    answers,
  };
}

/** encodeName writes a name as labels (no compression). */
function encodeName(name: string): Buffer {
  const parts = name === "" ? [] : name.split(".");
  const out: Buffer[] = [];
  for (const part of parts) {
    const bytes = Buffer.from(part, "latin1");
    if (bytes.length === 0 || bytes.length > 63) throw new Error(`bad label in ${name}`);
    out.push(Buffer.from([bytes.length]), bytes);
  }
  out.push(Buffer.from([0]));
  return Buffer.concat(out);
}

/** What buildResponse writes. */
export interface ResponseSpec {
  /** The query's id. */
  id: number;
  /** The query's RD bit. */
  recursionDesired: boolean;
  /** The question, echoed. */
  question: DnsQuestion;
  /** RCODE. */
  rcode: number;
  /** A and CNAME records to include, in order. */
  answers?: DnsRecord[];
  /** Largest message in bytes; records that do not fit are left out and TC is set. */
  maxBytes?: number;
}

/** buildResponse writes a response with A and CNAME answers. */
export function buildResponse(spec: ResponseSpec): Buffer {
  const question = Buffer.concat([
    encodeName(spec.question.name),
    u16(spec.question.type),
    u16(spec.question.klass),
  ]);
  const records: Buffer[] = [];
  let size = 12 + question.length;
  let truncated = false;
  for (const r of spec.answers ?? []) {
    let rdata: Buffer;
    if (r.type === DnsType.A && r.address) rdata = Buffer.from(r.address.split(".").map(Number));
    else if (r.type === DnsType.CNAME && r.target !== undefined) rdata = encodeName(r.target);
    else continue;
    const ttl = Buffer.alloc(4);
    ttl.writeUInt32BE(Math.max(0, Math.min(r.ttl, 0x7fffffff)));
    const record = Buffer.concat([
      encodeName(r.name),
      u16(r.type),
      u16(r.klass),
      ttl,
      u16(rdata.length),
      rdata,
    ]);
    if (spec.maxBytes !== undefined && size + record.length > spec.maxBytes) {
      truncated = true;
      break;
    }
    size += record.length;
    records.push(record);
  }
  const header = Buffer.alloc(12);
  header.writeUInt16BE(spec.id, 0);
  // QR, opcode 0, RA always; RD echoed; TC when records were left out.
  header.writeUInt16BE(
    0x8080 | (spec.recursionDesired ? 0x0100 : 0) | (truncated ? 0x0200 : 0) | (spec.rcode & 0xf),
    2,
  );
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(records.length, 6);
  return Buffer.concat([header, question, ...records]);
}

/** buildQuery writes a standard query with one question (tests and upstream probes). */
export function buildQuery(id: number, name: string, type: number): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x0100, 2);
  header.writeUInt16BE(1, 4);
  return Buffer.concat([header, encodeName(name), u16(type), u16(1)]);
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}
