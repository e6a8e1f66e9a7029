// The SDK's error classes and the ONE table that maps a call's failure (Connect code, plus the
// google.rpc.ErrorInfo reason of domain "cove.dev") to them. Nothing else in the SDK decides
// which class an error gets.
import { Code, ConnectError } from "@connectrpc/connect";
import {
  BadRequestSchema,
  ErrorInfoSchema,
  RetryInfoSchema,
} from "@cove/gen-ts/google/rpc/error_details_pb.js";

/** The ErrorInfo domain of Cove's own errors. */
export const ERROR_DOMAIN = "cove.dev";

/** One bad field of a request, from google.rpc.BadRequest. */
export interface FieldViolation {
  /** field is the request field's path, e.g. "labels" or "resources.memory_mib". */
  field: string;
  /** description says what is wrong with it. */
  description: string;
}

/** What every SDK error carries besides its message. */
export interface CoveErrorInit {
  /** code is the gRPC/Connect code name, e.g. "not_found". */
  code: string;
  /** reason is the ErrorInfo reason (an ErrorReason name such as "SANDBOX_NOT_FOUND"), if any. */
  reason?: string;
  /** metadata is the ErrorInfo metadata (e.g. sandboxId). */
  metadata?: Record<string, string>;
  /** fieldViolations are the google.rpc.BadRequest violations, if any. */
  fieldViolations?: FieldViolation[];
  /** retryAfterMs is the server's google.rpc.RetryInfo delay, if it sent one. */
  retryAfterMs?: number;
  /** cause is the underlying error. */
  cause?: unknown;
}

/** CoveError is the base class of every error the SDK throws. */
export class CoveError extends Error {
  /** code is the gRPC/Connect code name, e.g. "not_found", "unavailable". */
  readonly code: string;
  /** reason is the server's ErrorInfo reason, e.g. "SANDBOX_NOT_FOUND"; undefined when none. */
  readonly reason: string | undefined;
  /** metadata is the ErrorInfo metadata (string keys and values). */
  readonly metadata: Record<string, string>;
  /** fieldViolations lists bad request fields (google.rpc.BadRequest); usually empty. */
  readonly fieldViolations: FieldViolation[];
  /** retryAfterMs is how long the server asked the client to wait before retrying. */
  readonly retryAfterMs: number | undefined;

  constructor(message: string, init: CoveErrorInit) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = new.target.name;
    this.code = init.code;
    this.reason = init.reason;
    this.metadata = init.metadata ?? {};
    this.fieldViolations = init.fieldViolations ?? [];
    this.retryAfterMs = init.retryAfterMs;
  }
}

/** CoveNotFoundError: the sandbox, file, process, session … does not exist (or is another tenant's). */
export class CoveNotFoundError extends CoveError {}
/** CoveAuthenticationError: no API key, or a bad, expired or revoked one. */
export class CoveAuthenticationError extends CoveError {}
/** CovePermissionError: the key or the sandbox user may not do this. */
export class CovePermissionError extends CoveError {}
/** CoveRateLimitError: too many requests or streams right now; retry later (retryAfterMs). */
export class CoveRateLimitError extends CoveError {}
/** CoveQuotaError: a quota, size cap or other hard limit was hit; retrying will not help. */
export class CoveQuotaError extends CoveError {}
/** CoveTimeoutError: a deadline or wait timeout passed first. */
export class CoveTimeoutError extends CoveError {}
/** CoveConflictError: the object is in the wrong state for this (failed precondition, aborted). */
export class CoveConflictError extends CoveError {}
/** CoveAlreadyExistsError: the object to create exists already. */
export class CoveAlreadyExistsError extends CoveConflictError {}
/** CoveUnavailableError: a server, runner or daemon is down or unreachable; retry later. */
export class CoveUnavailableError extends CoveError {}
/** CoveValidationError: a request field is invalid; see fieldViolations. */
export class CoveValidationError extends CoveError {}
/** CoveCancelledError: the call was cancelled by the caller (AbortSignal, close()). */
export class CoveCancelledError extends CoveError {}

type ErrorClass = new (message: string, init: CoveErrorInit) => CoveError;

/**
 * THE table: each row is a Connect code, optionally narrowed to ErrorInfo reasons, and the
 * class it becomes. Rows with reasons come first and win; the first row that matches is used;
 * codes not listed become CoveError.
 */
const ERROR_TABLE: ReadonlyArray<{ code: Code; reasons?: readonly string[]; type: ErrorClass }> = [
  { code: Code.ResourceExhausted, reasons: ["RATE_LIMITED"], type: CoveRateLimitError },
  { code: Code.ResourceExhausted, reasons: ["STREAM_LIMIT_EXCEEDED"], type: CoveRateLimitError },
  { code: Code.ResourceExhausted, reasons: ["NO_RUNNER_CAPACITY"], type: CoveUnavailableError },
  { code: Code.ResourceExhausted, type: CoveQuotaError },
  { code: Code.NotFound, type: CoveNotFoundError },
  { code: Code.Unauthenticated, type: CoveAuthenticationError },
  { code: Code.PermissionDenied, type: CovePermissionError },
  { code: Code.DeadlineExceeded, type: CoveTimeoutError },
  { code: Code.FailedPrecondition, type: CoveConflictError },
  { code: Code.Aborted, type: CoveConflictError },
  { code: Code.AlreadyExists, type: CoveAlreadyExistsError },
  { code: Code.Unavailable, type: CoveUnavailableError },
  { code: Code.InvalidArgument, type: CoveValidationError },
  { code: Code.OutOfRange, type: CoveValidationError },
  { code: Code.Canceled, type: CoveCancelledError },
];

/**
 * Which failures are worth retrying with backoff: Unavailable, ResourceExhausted and Aborted
 * only (the style guide's rule), and of ResourceExhausted only the transient reasons (a quota
 * or a size cap will not change by waiting).
 */
const RETRYABLE: ReadonlyArray<{ code: Code; reasons?: readonly (string | undefined)[] }> = [
  { code: Code.Unavailable },
  { code: Code.Aborted },
  {
    code: Code.ResourceExhausted,
    reasons: ["RATE_LIMITED", "STREAM_LIMIT_EXCEEDED", "NO_RUNNER_CAPACITY", undefined],
  },
];

/** codeName turns Code.NotFound into "not_found". */
function codeName(code: Code): string {
  return (Code[code] ?? "unknown").replace(/[A-Z]/g, (c, i) => (i ? "_" : "") + c.toLowerCase());
}

/** isRetryable says whether a failed call may be retried (see RETRYABLE). */
export function isRetryable(err: CoveError): boolean {
  return RETRYABLE.some(
    (row) =>
      codeName(row.code) === err.code &&
      (row.reasons === undefined || row.reasons.includes(err.reason)),
  );
}

/**
 * isRejectedUpFront says whether the server surely refused the call before acting on it (a rate
 * limit), so that even a call with side effects may be sent again.
 */
export function isRejectedUpFront(err: CoveError): boolean {
  return err.reason === "RATE_LIMITED";
}

/**
 * toCoveError converts anything a call threw into the SDK's class for it, reading ErrorInfo
 * (domain cove.dev), BadRequest and RetryInfo from the error details. An existing CoveError
 * is returned as is.
 */
export function toCoveError(err: unknown): CoveError {
  if (err instanceof CoveError) return err;
  const ce = ConnectError.from(err);
  let reason: string | undefined;
  let metadata: Record<string, string> = {};
  let fieldViolations: FieldViolation[] = [];
  let retryAfterMs: number | undefined;
  try {
    const info = ce.findDetails(ErrorInfoSchema).find((i) => i.domain === ERROR_DOMAIN);
    if (info) {
      reason = info.reason || undefined;
      metadata = { ...info.metadata };
    }
    fieldViolations = ce
      .findDetails(BadRequestSchema)
      .flatMap((b) => b.fieldViolations)
      .map((v) => ({ field: v.field, description: v.description }));
    const retry = ce.findDetails(RetryInfoSchema)[0];
    if (retry?.retryDelay) {
      retryAfterMs =
        Number(retry.retryDelay.seconds) * 1000 + Math.floor(retry.retryDelay.nanos / 1e6);
    }
  } catch {
    // Undecodable details: keep the code and message.
  }
  const row =
    ERROR_TABLE.find((r) => r.code === ce.code && r.reasons?.includes(reason ?? "")) ??
    ERROR_TABLE.find((r) => r.code === ce.code && r.reasons === undefined);
  const type = row?.type ?? CoveError;
  return new type(ce.rawMessage || ce.message, {
    code: codeName(ce.code),
    reason,
    metadata,
    fieldViolations,
    retryAfterMs,
    cause: err,
  });
}

/** sdkError builds an error raised by the SDK itself, classified by the same table. */
export function sdkError(
  code: Code,
  message: string,
  extra: Omit<CoveErrorInit, "code"> = {},
): CoveError {
  const row =
    ERROR_TABLE.find((r) => r.code === code && r.reasons?.includes(extra.reason ?? "")) ??
    ERROR_TABLE.find((r) => r.code === code && r.reasons === undefined);
  const type = row?.type ?? CoveError;
  return new type(message, { ...extra, code: codeName(code) });
}
