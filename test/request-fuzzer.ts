// Hostile requests generated from the descriptors, seeded and deterministic: every string
// field gets path segments, %2e%2e, NUL, control characters, lone surrogates, 1 MB values,
// injection shapes and plausible-but-wrong image names; numbers get negative and huge values;
// enums get unknown numbers; durations get out-of-range parts. Every generated string carries
// FUZZ_MARKER, so a test can tell whether any of it reached a place it must never reach.
import {
  create,
  type DescField,
  type DescMessage,
  type MessageShape,
  ScalarType,
  toBinary,
} from "@bufbuild/protobuf";

/** Appears in every generated string (and map key). */
export const FUZZ_MARKER = "fuzzmark";

/** A seeded pseudo-random generator (mulberry32). */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** next returns a float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** int returns an integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** pick returns one element. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }

  /** chance is true with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }
}

const M = FUZZ_MARKER;

/** The hostile string shapes (each with the marker). */
export const HOSTILE_STRINGS: readonly string[] = [
  M,
  `../../${M}`,
  `a/../../${M}`,
  `%2e%2e/${M}`,
  `%2e%2e%2f${M}`,
  `..%2f..%2f${M}`,
  `/${M}/../../etc/passwd`,
  `/proc/self/${M}`,
  `//${M}//x`,
  `${M};id`,
  `${M}|id`,
  `$(touch /tmp/${M})`,
  `\`${M}\``,
  `-${M}`,
  `--${M}=1`,
  `UPPER/${M}`,
  `${M}\0x`,
  `${M}%00`,
  `${M}\r\nx-injected: 1`,
  `${M}\n`,
  `${M}\t `,
  `${M}\u0007\u001b[31m`,
  `${M}\u202e\u200b`,
  `${M}\ud800`,
  `${M}\udfff${M}`,
  `${M}😀é中文`,
  `${M}${"a".repeat(1 << 20)}`,
  `${M}${"/..".repeat(2000)}`,
  `http://etc/${M}`,
  `${M}:${M}@${M}`,
  `localhost:5000/${M}:tag`,
  `docker.io/library/${M}:latest`,
  `${M}@sha256:${"a".repeat(64)}`,
  `cove-test/${M}:1`,
  `${M}?x=1#y`,
  `${M}*`,
  `${M}%`,
  `{"${M}":1}`,
];

/** Ordinary values, so that a request with one hostile field gets past the others. */
export const BENIGN_STRINGS: readonly string[] = [
  "",
  "a",
  "team",
  "cove",
  "root",
  "main",
  "/tmp",
  "/home/cove",
  "notes.txt",
  "/tmp/fuzz-benign.txt",
  "echo hi",
  "ls -la /tmp",
  "print(1)",
  "*.txt",
  "python:3.12-slim",
  "1.1.1.1/32",
  "runc",
  "labels",
];

const HOSTILE_INTS = [
  0, 1, -1, 2, 7, 250, 65_535, 65_536, 2_147_483_647, -2_147_483_648, 1_000_000,
];
const HOSTILE_BIGINTS = [
  0n,
  -1n,
  1n,
  9_223_372_036_854_775_807n,
  -9_223_372_036_854_775_808n,
  1n << 40n,
];
const HOSTILE_UNSIGNED = [0, 1, 4_294_967_295, 65_536, 100_000];
const HOSTILE_DURATIONS = [
  { seconds: 0n, nanos: 0 },
  { seconds: 1n, nanos: 0 },
  { seconds: -60n, nanos: 0 },
  { seconds: 60n, nanos: -5 },
  { seconds: 0n, nanos: 2_000_000_000 },
  { seconds: 315_576_000_001n, nanos: 0 },
  { seconds: 9_223_372_036_854_775_807n, nanos: 999_999_999 },
  { seconds: 600n, nanos: 0 },
  { seconds: 30n, nanos: 500 },
];

/** Options for generating one message. */
export interface FuzzOptions {
  /** Probability that a field is set at all. Default 0.6. */
  fill?: number;
  /**
   * Probability that a string is hostile rather than ordinary. Default 1; lower values let a
   * request reach deeper than its first bad field.
   */
  hostility?: number;
  /** How deep nested messages go. Default 3. */
  maxDepth?: number;
  /** Values to use for particular field names instead of random ones, sometimes. */
  known?: Record<string, () => unknown>;
  /**
   * Largest encoded message, bytes; bigger ones are drawn again. Default 8 MiB, under the
   * servers' 16 MiB cap: the fuzz is about content (oversize messages have their own test).
   */
  maxBytes?: number;
}

function hostileString(g: Gen): string {
  return g.rng.pick(HOSTILE_STRINGS);
}

/** One generation: the random source and how hostile its strings and numbers are. */
interface Gen {
  /** The seeded random source. */
  rng: Rng;
  /** Probability that a value is hostile rather than ordinary. */
  hostility: number;
}

function scalar(field: DescField & { scalar?: ScalarType }, g: Gen): unknown {
  switch (field.scalar) {
    case ScalarType.STRING:
      return g.rng.chance(g.hostility) ? hostileString(g) : g.rng.pick(BENIGN_STRINGS);
    case ScalarType.BYTES:
      return g.rng.chance(0.1)
        ? new Uint8Array(1 << 20).fill(0x41)
        : new TextEncoder().encode(hostileString(g).slice(0, 256));
    case ScalarType.BOOL:
      return g.rng.chance(0.5);
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return g.rng.chance(g.hostility) ? g.rng.pick(HOSTILE_INTS) : g.rng.pick([0, 1, 80, 1000]);
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return g.rng.pick(HOSTILE_BIGINTS);
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return g.rng.pick(HOSTILE_BIGINTS.filter((n) => n >= 0n));
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return g.rng.pick(HOSTILE_UNSIGNED);
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return g.rng.pick([0, -1, 1.5, 1e308, Number.NaN, Number.POSITIVE_INFINITY]);
    default:
      return g.rng.pick(HOSTILE_INTS);
  }
}

function enumValue(desc: { values: readonly { number: number }[] }, g: Gen): number {
  if (g.rng.chance(0.25 * g.hostility)) return g.rng.pick([99, -3, 1_000_000, 2_147_483_647]);
  return g.rng.pick(desc.values).number;
}

/** short caps strings and bytes inside lists and maps, so 300 entries stay a few MB at most. */
function short(v: unknown): unknown {
  if (typeof v === "string") return v.slice(0, 4096);
  if (v instanceof Uint8Array) return v.subarray(0, 4096);
  return v;
}

function value(field: DescField, g: Gen, depth: number, options: FuzzOptions): unknown {
  const known = options.known?.[field.name];
  if (known && g.rng.chance(0.7)) return known();
  switch (field.fieldKind) {
    case "scalar":
      return scalar(field, g);
    case "enum":
      return enumValue(field.enum, g);
    case "message":
      return message(field.message, g, depth + 1, options);
    case "list": {
      const n = g.rng.chance(0.05 * g.hostility) ? 300 : g.rng.int(4);
      return Array.from({ length: n }, () => {
        if (field.listKind === "enum") return enumValue(field.enum, g);
        if (field.listKind === "message") return message(field.message, g, depth + 1, options);
        return short(scalar(field, g));
      });
    }
    case "map": {
      const n = g.rng.chance(0.05 * g.hostility) ? 300 : g.rng.int(4);
      const out: Record<string, unknown> = {};
      for (let i = 0; i < n; i++) {
        const key =
          field.mapKey === ScalarType.STRING ? `${hostileString(g).slice(0, 2048)}${i}` : String(i);
        out[key] =
          field.mapKind === "enum"
            ? enumValue(field.enum, g)
            : field.mapKind === "message"
              ? message(field.message, g, depth + 1, options)
              : short(scalar(field, g));
      }
      return out;
    }
  }
}

function message(desc: DescMessage, g: Gen, depth: number, options: FuzzOptions): unknown {
  if (desc.typeName === "google.protobuf.Duration")
    return g.rng.chance(g.hostility) ? g.rng.pick(HOSTILE_DURATIONS) : { seconds: 60n, nanos: 0 };
  if (desc.typeName === "google.protobuf.Timestamp")
    return g.rng.pick([
      { seconds: 0n, nanos: 0 },
      { seconds: -1n << 40n, nanos: 0 },
      { seconds: 1n, nanos: -1 },
    ]);
  if (desc.typeName === "google.protobuf.FieldMask")
    return {
      paths: Array.from({ length: g.rng.int(3) }, () =>
        g.rng.pick(["labels", "public", hostileString(g)]),
      ),
    };
  if (depth > (options.maxDepth ?? 3)) return {};
  const init: Record<string, unknown> = {};
  const fill = options.fill ?? 0.6;
  for (const oneof of desc.oneofs) {
    if (!g.rng.chance(fill)) continue;
    const field = g.rng.pick(oneof.fields);
    init[oneof.localName] = { case: field.localName, value: value(field, g, depth, options) };
  }
  for (const field of desc.fields) {
    if (field.oneof || !g.rng.chance(fill)) continue;
    init[field.localName] = value(field, g, depth, options);
  }
  return init;
}

/** fuzzMessage generates one hostile message of `desc`. */
export function fuzzMessage<Desc extends DescMessage>(
  desc: Desc,
  rng: Rng,
  options: FuzzOptions = {},
): MessageShape<Desc> {
  const g: Gen = { rng, hostility: options.hostility ?? 1 };
  for (;;) {
    const out = create(desc, message(desc, g, 0, options) as never);
    if (toBinary(desc, out).length <= (options.maxBytes ?? 8 * 1024 * 1024)) return out;
  }
}

/** describeMessage summarizes a request for a failure report (long strings shortened). */
export function describeMessage(value: unknown): string {
  return JSON.stringify(value, (_key, v) => {
    if (typeof v === "bigint") return `${v}n`;
    if (typeof v === "string" && v.length > 80) return `${v.slice(0, 40)}…(${v.length})`;
    if (v instanceof Uint8Array) return `<${v.length} bytes>`;
    return v;
  }).slice(0, 600);
}
