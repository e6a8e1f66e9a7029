/**
 * Rules every request message obeys on every Cove server, checked from the descriptors so a new
 * field or RPC is covered without a line of handler code:
 *
 * - enum fields hold a value their enum declares (proto3 enums are open: binary decoding, and
 *   JSON numbers, keep any int32, so 99 would otherwise reach a handler as "some state");
 * - strings are well-formed Unicode (a lone surrogate from JSON cannot be stored or encoded);
 * - google.protobuf.Duration and Timestamp are normalized and inside their documented ranges;
 * - strings and map keys hold no NUL (U+0000): nothing Cove stores or passes on can carry one
 *   (Postgres text, Docker's API, argv, environment, paths); bytes fields are for binary data.
 *
 * Unknown enum *names* in JSON never get here: every server parses JSON strictly (see
 * createGrpcHandler), so they are INVALID_ARGUMENT at decoding.
 */
import { type DescEnum, type DescField, type DescMessage, ScalarType } from "@bufbuild/protobuf";
import type { Interceptor } from "@connectrpc/connect";
import { toConnectError } from "./error-interceptor.js";
import { CoveError, type FieldViolation } from "./errors.js";
import { createLogger } from "./logger.js";

/** Switches for the rules (every rule is on by default). */
export interface MessageRules {
  /** Refuse NUL (U+0000) in every string field and map key. Default true. */
  rejectNulInStrings?: boolean;
}

/** At most this many violations are reported for one message (the rest are counted). */
export const MAX_REPORTED_VIOLATIONS = 20;

const DURATION_MAX_SECONDS = 315_576_000_000n;
const TIMESTAMP_MIN_SECONDS = -62_135_596_800n;
const TIMESTAMP_MAX_SECONDS = 253_402_300_799n;
const NANOS_PER_SECOND = 1_000_000_000;

/** JSON-shaped well-known types that protobuf-es represents as plain JSON values. */
const JSON_TYPES = new Set([
  "google.protobuf.Struct",
  "google.protobuf.Value",
  "google.protobuf.ListValue",
]);

const enumNumbers = new WeakMap<DescEnum, Set<number>>();

function knownNumbers(desc: DescEnum): Set<number> {
  let numbers = enumNumbers.get(desc);
  if (!numbers) {
    numbers = new Set(desc.values.map((v) => v.number));
    enumNumbers.set(desc, numbers);
  }
  return numbers;
}

class Collector {
  readonly list: FieldViolation[] = [];
  total = 0;

  constructor(readonly rules: MessageRules) {}

  add(field: string, description: string): void {
    this.total++;
    if (this.list.length < MAX_REPORTED_VIOLATIONS) this.list.push({ field, description });
  }
}

/** A lone surrogate (with the u flag, paired surrogates match as one code point instead). */
const LONE_SURROGATE = /\p{Cs}/u;

function checkString(value: string, field: string, out: Collector): void {
  if (LONE_SURROGATE.test(value))
    out.add(field, "must be well-formed Unicode (no lone surrogates)");
  else if (out.rules.rejectNulInStrings !== false && value.includes("\0"))
    out.add(field, "must not contain NUL (U+0000)");
}

function checkEnum(desc: DescEnum, value: unknown, field: string, out: Collector): void {
  if (typeof value !== "number" || !knownNumbers(desc).has(value)) {
    out.add(field, `unknown ${desc.name} value ${String(value)}`);
  }
}

function checkScalar(field: DescField, value: unknown, path: string, out: Collector): void {
  if (field.scalar === ScalarType.STRING && typeof value === "string")
    checkString(value, path, out);
}

function checkWellKnown(
  desc: DescMessage,
  message: Record<string, unknown>,
  path: string,
  out: Collector,
) {
  const seconds = BigInt((message.seconds as bigint | number | string | undefined) ?? 0);
  const nanos = Number(message.nanos ?? 0);
  const where = path === "" ? desc.name : path;
  if (desc.typeName === "google.protobuf.Duration") {
    if (seconds > DURATION_MAX_SECONDS || seconds < -DURATION_MAX_SECONDS)
      out.add(where, "a duration must be within ±10 000 years");
    else if (!Number.isInteger(nanos) || Math.abs(nanos) >= NANOS_PER_SECOND)
      out.add(where, "nanos must be between -999 999 999 and 999 999 999");
    else if ((seconds > 0n && nanos < 0) || (seconds < 0n && nanos > 0))
      out.add(where, "seconds and nanos must have the same sign");
  } else if (desc.typeName === "google.protobuf.Timestamp") {
    if (seconds < TIMESTAMP_MIN_SECONDS || seconds > TIMESTAMP_MAX_SECONDS)
      out.add(where, "a timestamp must be between 0001-01-01 and 9999-12-31");
    else if (!Number.isInteger(nanos) || nanos < 0 || nanos >= NANOS_PER_SECOND)
      out.add(where, "nanos must be between 0 and 999 999 999");
  }
}

function join(path: string, name: string): string {
  return path === "" ? name : `${path}.${name}`;
}

function walkMessage(
  desc: DescMessage,
  message: unknown,
  path: string,
  out: Collector,
  depth: number,
): void {
  if (typeof message !== "object" || message === null || JSON_TYPES.has(desc.typeName)) return;
  if (depth > 100) {
    out.add(path, "is nested too deeply");
    return;
  }
  const record = message as Record<string, unknown>;
  checkWellKnown(desc, record, path, out);
  for (const field of desc.fields) {
    let value: unknown;
    if (field.oneof) {
      const oneof = record[field.oneof.localName] as { case?: string; value?: unknown } | undefined;
      if (oneof?.case !== field.localName) continue;
      value = oneof.value;
    } else {
      value = record[field.localName];
    }
    if (value === undefined) continue;
    const here = join(path, field.name);
    switch (field.fieldKind) {
      case "scalar":
        checkScalar(field, value, here, out);
        break;
      case "enum":
        checkEnum(field.enum, value, here, out);
        break;
      case "message":
        // Wrapper types (google.protobuf.StringValue…) are unboxed to their scalar.
        if (typeof value === "string") checkString(value, here, out);
        else walkMessage(field.message, value, here, out, depth + 1);
        break;
      case "list": {
        const items = value as unknown[];
        items.forEach((item, i) => {
          const at = `${here}[${i}]`;
          if (field.listKind === "enum") checkEnum(field.enum, item, at, out);
          else if (field.listKind === "message")
            walkMessage(field.message, item, at, out, depth + 1);
          else checkScalar(field, item, at, out);
        });
        break;
      }
      case "map": {
        for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
          const at = `${here}.${key}`;
          if (field.mapKey === ScalarType.STRING)
            checkString(key, `${here} (key ${JSON.stringify(key.slice(0, 64))})`, out);
          if (field.mapKind === "enum") checkEnum(field.enum, item, at, out);
          else if (field.mapKind === "message")
            walkMessage(field.message, item, at, out, depth + 1);
          else checkScalar(field, item, at, out);
        }
        break;
      }
    }
  }
}

/**
 * findMessageViolations returns the rule violations of one message (at most
 * MAX_REPORTED_VIOLATIONS, plus how many there were), with proto field paths such as
 * `states[0]`, `network_policy.mode` or `labels.team`.
 */
export function findMessageViolations(
  desc: DescMessage,
  message: unknown,
  rules: MessageRules = {},
): { violations: FieldViolation[]; total: number } {
  const out = new Collector(rules);
  walkMessage(desc, message, "", out, 0);
  return { violations: out.list, total: out.total };
}

/** checkMessage throws INVALID_ARGUMENT (reason INVALID_FIELD) listing the message's violations. */
export function checkMessage(desc: DescMessage, message: unknown, rules: MessageRules = {}): void {
  const { violations, total } = findMessageViolations(desc, message, rules);
  const first = violations[0];
  if (!first) return;
  const more = total > violations.length ? `; and ${total - violations.length} more` : "";
  const text = violations.map((v) => `${v.field}: ${v.description}`).join("; ");
  throw new CoveError(
    "invalidArgument",
    "INVALID_FIELD",
    `${text}${more}`,
    { field: first.field },
    violations,
  );
}

const silent = createLogger({ level: "silent" });

/**
 * createMessageValidationInterceptor applies checkMessage to every request message, including
 * each message of a client or bidi stream, and fails the call with INVALID_ARGUMENT (with a
 * google.rpc.BadRequest field violation per bad field) before the handler sees it. Installed
 * innermost, after authentication, so an anonymous caller learns nothing about the schema.
 */
export function createMessageValidationInterceptor(rules: MessageRules = {}): Interceptor {
  const check = (desc: DescMessage, message: unknown, procedure: string) => {
    try {
      checkMessage(desc, message, rules);
    } catch (err) {
      throw toConnectError(err, silent, procedure);
    }
  };
  return (next) => async (req) => {
    const procedure = `${req.method.parent.typeName}/${req.method.name}`;
    const input = req.method.input;
    if (!req.stream) {
      check(input, req.message, procedure);
      return next(req);
    }
    const messages = req.message;
    return next({
      ...req,
      message: (async function* () {
        for await (const message of messages) {
          check(input, message, procedure);
          yield message;
        }
      })(),
    });
  };
}
