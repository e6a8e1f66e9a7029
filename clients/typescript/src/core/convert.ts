// Small conversions between the SDK's plain values and the generated messages.
import type { Duration, Timestamp } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { CodeLanguage } from "@cove/gen-ts/cove/toolbox/v1/language_pb.js";
import { Signal } from "@cove/gen-ts/cove/toolbox/v1/process_pb.js";
import { sdkError } from "./errors.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8");

/** Duration init from seconds (fractions kept to the nanosecond). */
export function seconds(s: number): { seconds: bigint; nanos: number } {
  const whole = Math.floor(s);
  return { seconds: BigInt(whole), nanos: Math.round((s - whole) * 1e9) };
}

/** Duration init from minutes. */
export function minutes(m: number): { seconds: bigint; nanos: number } {
  return seconds(m * 60);
}

/** durationSeconds reads a Duration as seconds; undefined stays undefined. */
export function durationSeconds(d: Duration | undefined): number | undefined {
  return d === undefined ? undefined : Number(d.seconds) + d.nanos / 1e9;
}

/** toDate reads a Timestamp; undefined stays undefined. */
export function toDate(t: Timestamp | undefined): Date | undefined {
  return t === undefined
    ? undefined
    : new Date(Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6));
}

/** utf8 encodes text (or passes bytes through). */
export function utf8(data: string | Uint8Array): Uint8Array {
  return typeof data === "string" ? encoder.encode(data) : data;
}

/** text decodes UTF-8 bytes (invalid sequences become U+FFFD). */
export function text(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

/** A signal name the SDK accepts. */
export type SignalName =
  | "SIGTERM"
  | "SIGKILL"
  | "SIGINT"
  | "SIGHUP"
  | "SIGQUIT"
  | "SIGUSR1"
  | "SIGUSR2"
  | "SIGSTOP"
  | "SIGCONT";

/** signalOf maps a signal name to the contract's enum. */
export function signalOf(name: SignalName): Signal {
  return Signal[name];
}

/** A language codeRun accepts. */
export type CodeLanguageName = "python" | "javascript" | "typescript";

/** languageOf maps a language name (case-insensitive; "js"/"ts"/"py" too) to the enum. */
export function languageOf(name: string | undefined): CodeLanguage {
  switch ((name ?? "python").toLowerCase()) {
    case "python":
    case "py":
    case "python3":
      return CodeLanguage.PYTHON;
    case "javascript":
    case "js":
    case "node":
      return CodeLanguage.JAVASCRIPT;
    case "typescript":
    case "ts":
      return CodeLanguage.TYPESCRIPT;
    default:
      throw sdkError(
        Code.InvalidArgument,
        `unknown language "${name}": use python, javascript or typescript`,
      );
  }
}

/** mode parses a permission mode: a number, or an octal string like "755" / "0o644". */
export function modeOf(mode: string | number): number {
  if (typeof mode === "number") return mode;
  const m = /^(?:0o?)?([0-7]{1,4})$/i.exec(mode.trim());
  if (!m) throw sdkError(Code.InvalidArgument, `not an octal mode: "${mode}"`);
  return Number.parseInt(m[1] as string, 8);
}
