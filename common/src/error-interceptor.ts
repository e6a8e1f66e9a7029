import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { BadRequestSchema, ErrorInfoSchema } from "@cove/gen-ts/google/rpc/error_details_pb.js";
import { CoveError, type ErrorCode } from "./errors.js";
import type { Logger } from "./logger.js";

/** The domain in every google.rpc.ErrorInfo Cove sends. */
export const ERROR_DOMAIN = "cove.dev";

const codes: Record<ErrorCode, Code> = {
  invalidArgument: Code.InvalidArgument,
  notFound: Code.NotFound,
  alreadyExists: Code.AlreadyExists,
  failedPrecondition: Code.FailedPrecondition,
  resourceExhausted: Code.ResourceExhausted,
  permissionDenied: Code.PermissionDenied,
  unauthenticated: Code.Unauthenticated,
  unavailable: Code.Unavailable,
  deadlineExceeded: Code.DeadlineExceeded,
  outOfRange: Code.OutOfRange,
  aborted: Code.Aborted,
  unimplemented: Code.Unimplemented,
};

/** Longest error message sent, in characters (gRPC carries it in a trailer). */
export const MAX_ERROR_MESSAGE_CHARS = 2048;
/** Longest ErrorInfo metadata value or field-violation text sent, in characters. */
export const MAX_ERROR_DETAIL_CHARS = 256;

/**
 * clip shortens text that may echo a request's values: an error about a 1 MB field must not be
 * a 1 MB trailer (HTTP/2 peers refuse header blocks that large, and the call would end in
 * INTERNAL instead of the error it deserves).
 */
function clip(text: string, max: number): string {
  return text.length <= max
    ? text
    : `${text.slice(0, max)}… (${text.length - max} more characters)`;
}

/** connectErrorOf spells a CoveError as the ConnectError a client sees: code, message, ErrorInfo, BadRequest (all size-bounded). */
export function connectErrorOf(err: CoveError): ConnectError {
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(err.metadata).slice(0, 32))
    metadata[clip(key, 64)] = clip(value, MAX_ERROR_DETAIL_CHARS);
  const info = create(ErrorInfoSchema, {
    reason: err.reason,
    domain: ERROR_DOMAIN,
    metadata,
  });
  const details: ConstructorParameters<typeof ConnectError>[3] = [
    { desc: ErrorInfoSchema, value: info },
  ];
  if (err.violations.length > 0) {
    const badRequest = create(BadRequestSchema, {
      fieldViolations: err.violations.slice(0, 20).map((v) => ({
        field: clip(v.field, MAX_ERROR_DETAIL_CHARS),
        description: clip(v.description, MAX_ERROR_DETAIL_CHARS),
      })),
    });
    details.push({ desc: BadRequestSchema, value: badRequest });
  }
  return new ConnectError(
    clip(err.message, MAX_ERROR_MESSAGE_CHARS),
    codes[err.code],
    undefined,
    details,
    err,
  );
}

/**
 * toConnectError maps anything thrown by a handler to what the client sees: a CoveError keeps
 * its code, message, ErrorInfo and field violations (each bounded in size); a ConnectError
 * passes through; anything else becomes Internal with a generic message, and the original is
 * logged as `cause`.
 */
export function toConnectError(err: unknown, logger: Logger, procedure: string): ConnectError {
  if (err instanceof CoveError) return connectErrorOf(err);
  if (err instanceof ConnectError) return err;
  logger.error("unhandled error", { procedure, err });
  return new ConnectError(
    "internal error; the server logged the cause",
    Code.Internal,
    undefined,
    undefined,
    err,
  );
}

/** createErrorInterceptor applies toConnectError to unary results and to every stream. */
export function createErrorInterceptor(logger: Logger): Interceptor {
  return (next) => async (req) => {
    const procedure = `${req.method.parent.typeName}/${req.method.name}`;
    try {
      const res = await next(req);
      if (!res.stream) return res;
      const messages = res.message;
      return {
        ...res,
        message: (async function* () {
          try {
            yield* messages;
          } catch (err) {
            throw toConnectError(err, logger, procedure);
          }
        })(),
      };
    } catch (err) {
      throw toConnectError(err, logger, procedure);
    }
  };
}
