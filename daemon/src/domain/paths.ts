import * as path from "node:path";
import { invalidArgument } from "@cove/common";

/** Longest path the toolbox accepts, in bytes. */
export const MAX_PATH_BYTES = 4096;

/**
 * resolvePath validates a path from a request and makes it absolute: relative paths resolve
 * against `base` (the request's cwd or the user's home). Empty paths, NUL bytes and paths over
 * MAX_PATH_BYTES are INVALID_ARGUMENT naming `field`.
 */
export function resolvePath(input: string, base: string, field = "path"): string {
  if (input === "") throw invalidArgument(field, "must not be empty");
  if (input.includes("\0")) throw invalidArgument(field, "must not contain NUL bytes");
  if (Buffer.byteLength(input) > MAX_PATH_BYTES) {
    throw invalidArgument(field, `must be at most ${MAX_PATH_BYTES} bytes`);
  }
  return path.resolve(base, input);
}
