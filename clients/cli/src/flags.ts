// Typed access to parsed flags, with usage errors for values that do not fit.
import type { ParsedArgs } from "./args.js";
import { UsageError } from "./errors.js";

/** stringFlag returns a string flag's value, or undefined. */
export function stringFlag(parsed: ParsedArgs, name: string): string | undefined {
  const value = parsed.flags[name];
  return typeof value === "string" ? value : undefined;
}

/** boolFlag says whether a boolean flag was given. */
export function boolFlag(parsed: ParsedArgs, name: string): boolean {
  return parsed.flags[name] === true;
}

/** listFlag returns a list flag's values (empty when not given). */
export function listFlag(parsed: ParsedArgs, name: string): string[] {
  const value = parsed.flags[name];
  return Array.isArray(value) ? value : [];
}

/** intFlag parses a whole-number flag within [min, max]; undefined when not given. */
export function intFlag(
  parsed: ParsedArgs,
  name: string,
  range: { min: number; max: number },
): number | undefined {
  const text = stringFlag(parsed, name);
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < range.min || value > range.max) {
    throw new UsageError(
      `--${name} must be a whole number from ${range.min} to ${range.max}, not ${JSON.stringify(text)}`,
    );
  }
  return value;
}

/** keyValues parses repeated K=V flags into a map. */
export function keyValues(parsed: ParsedArgs, name: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of listFlag(parsed, name)) {
    const eq = item.indexOf("=");
    if (eq <= 0) throw new UsageError(`--${name} takes KEY=VALUE, not ${JSON.stringify(item)}`);
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}
