import { type Duration, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { invalidArgument } from "@cove/common";

/** A day in ms: the longest timeout the toolbox accepts. */
export const MAX_TIMEOUT_MS = 24 * 60 * 60 * 1000;

/**
 * timeoutMs reads a timeout field: unset gives `unsetMs` (undefined = none), an explicit zero
 * means no timeout, and more than 24 h or a negative value is INVALID_ARGUMENT.
 */
export function timeoutMs(
  duration: Duration | undefined,
  unsetMs: number | undefined,
  field = "timeout",
): number | undefined {
  if (duration === undefined) return unsetMs;
  const ms = Number(duration.seconds) * 1000 + Math.floor(duration.nanos / 1e6);
  if (ms < 0) throw invalidArgument(field, "must not be negative");
  if (ms > MAX_TIMEOUT_MS) throw invalidArgument(field, "must be at most 24 hours");
  return ms === 0 ? undefined : ms;
}

/** durationFromMs builds a Duration from milliseconds. */
export function durationFromMs(ms: number): { seconds: bigint; nanos: number } {
  const whole = Math.floor(ms / 1000);
  return { seconds: BigInt(whole), nanos: Math.round((ms - whole * 1000) * 1e6) };
}

/** byteLimit reads a size field: 0 gives `unset`, above `max` is INVALID_ARGUMENT. */
export function byteLimit(
  value: bigint | number,
  unset: number,
  max: number,
  field: string,
): number {
  const n = Number(value);
  if (n === 0) return unset;
  if (n < 0 || n > max) throw invalidArgument(field, `must be between 1 and ${max} bytes`);
  return n;
}

/** timestamp converts a Date (or undefined) for a *_time field. */
export function timestamp(date: Date | undefined) {
  return date ? timestampFromDate(date) : undefined;
}
