import type { ErrorReason } from "@cove/gen-ts/cove/errors/v1/error_reason_pb.js";

/** The name of a cove.errors.v1.ErrorReason value without its prefix, e.g. "FILE_NOT_FOUND". */
export type ErrorReasonName = Exclude<keyof typeof ErrorReason, "UNSPECIFIED">;

/** The gRPC status a domain error stands for, spelled like Connect's codes in lower camel case. */
export type ErrorCode =
  | "invalidArgument"
  | "notFound"
  | "alreadyExists"
  | "failedPrecondition"
  | "resourceExhausted"
  | "permissionDenied"
  | "unauthenticated"
  | "unavailable"
  | "deadlineExceeded"
  | "outOfRange"
  | "aborted"
  | "unimplemented";

/** One bad field of a request, for google.rpc.BadRequest. */
export interface FieldViolation {
  /** The field's path in the request, e.g. "path" or "env.FOO". */
  field: string;
  /** What is wrong with it, for a person. */
  description: string;
}

/**
 * CoveError is the one error type the domain throws. It names the gRPC code, the ErrorReason
 * and metadata for google.rpc.ErrorInfo; an interceptor turns it into a ConnectError, so the
 * domain never imports Connect.
 */
export class CoveError extends Error {
  constructor(
    /** The gRPC status this error maps to. */
    readonly code: ErrorCode,
    /** The ErrorReason carried in google.rpc.ErrorInfo. */
    readonly reason: ErrorReasonName,
    message: string,
    /** ErrorInfo metadata: lowerCamelCase keys, string values. */
    readonly metadata: Record<string, string> = {},
    /** Field violations for google.rpc.BadRequest (invalid arguments only). */
    readonly violations: FieldViolation[] = [],
  ) {
    super(message);
    this.name = "CoveError";
  }
}

/** invalidArgument builds an INVALID_ARGUMENT error for one bad field. */
export function invalidArgument(
  field: string,
  description: string,
  reason: ErrorReasonName = "INVALID_FIELD",
) {
  return new CoveError("invalidArgument", reason, `${field}: ${description}`, { field }, [
    { field, description },
  ]);
}

/** notFound builds a NOT_FOUND error. */
export function notFound(
  reason: ErrorReasonName,
  message: string,
  metadata: Record<string, string> = {},
) {
  return new CoveError("notFound", reason, message, metadata);
}

/** alreadyExists builds an ALREADY_EXISTS error. */
export function alreadyExists(
  reason: ErrorReasonName,
  message: string,
  metadata: Record<string, string> = {},
) {
  return new CoveError("alreadyExists", reason, message, metadata);
}

/** failedPrecondition builds a FAILED_PRECONDITION error (wrong state). */
export function failedPrecondition(
  reason: ErrorReasonName,
  message: string,
  metadata: Record<string, string> = {},
) {
  return new CoveError("failedPrecondition", reason, message, metadata);
}

/** resourceExhausted builds a RESOURCE_EXHAUSTED error (a limit, quota or size cap). */
export function resourceExhausted(
  reason: ErrorReasonName,
  message: string,
  metadata: Record<string, string> = {},
) {
  return new CoveError("resourceExhausted", reason, message, metadata);
}

/** permissionDenied builds a PERMISSION_DENIED error. */
export function permissionDenied(
  reason: ErrorReasonName,
  message: string,
  metadata: Record<string, string> = {},
) {
  return new CoveError("permissionDenied", reason, message, metadata);
}

/** unavailable builds an UNAVAILABLE error (a dependency is down; clients may retry). */
export function unavailable(
  reason: ErrorReasonName,
  message: string,
  metadata: Record<string, string> = {},
) {
  return new CoveError("unavailable", reason, message, metadata);
}

/** outOfRange builds an OUT_OF_RANGE error for a field whose value is past the end. */
export function outOfRange(field: string, description: string): CoveError {
  return new CoveError("outOfRange", "INVALID_FIELD", `${field}: ${description}`, { field }, [
    { field, description },
  ]);
}
