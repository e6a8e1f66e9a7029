import { ErrorReason } from "@cove/gen-ts/cove/errors/v1/error_reason_pb.js";
import type { ErrorReasonName } from "./errors.js";

/**
 * errorReasonName is the name of an ErrorReason value without its prefix (e.g.
 * "SANDBOX_NOT_FOUND"), or undefined for UNSPECIFIED and values this build does not know.
 */
export function errorReasonName(value: ErrorReason | number): ErrorReasonName | undefined {
  if (value === ErrorReason.UNSPECIFIED) return undefined;
  const name = (ErrorReason as unknown as Record<number, string | undefined>)[value];
  return typeof name === "string" ? (name as ErrorReasonName) : undefined;
}

/** parseErrorReasonName returns `name` when it names an ErrorReason value other than UNSPECIFIED, else undefined. */
export function parseErrorReasonName(name: string | undefined): ErrorReasonName | undefined {
  if (!name || name === "UNSPECIFIED" || !Object.hasOwn(ErrorReason, name)) return undefined;
  return typeof (ErrorReason as unknown as Record<string, unknown>)[name] === "number"
    ? (name as ErrorReasonName)
    : undefined;
}

/** errorReasonValue is the ErrorReason value a name stands for, or UNSPECIFIED when it names none. */
export function errorReasonValue(name: string | undefined): ErrorReason {
  const known = parseErrorReasonName(name);
  return known === undefined ? ErrorReason.UNSPECIFIED : ErrorReason[known];
}
