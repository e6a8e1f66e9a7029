import {
  alreadyExists,
  CoveError,
  failedPrecondition,
  invalidArgument,
  notFound,
  permissionDenied,
  resourceExhausted,
} from "@cove/common";

/** The errno code of a Node fs error, or undefined for anything else. */
export function errnoCode(err: unknown): string | undefined {
  // Not `instanceof Error`: errors raised by Node's own modules may come from another realm.
  const code =
    typeof err === "object" && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === "string" ? code : undefined;
}

/**
 * fsError is the one place that turns a Node fs error into what the caller sees: a CoveError
 * with the gRPC code and ErrorReason the FilesystemService contract names, and a message that
 * names the path instead of repeating the raw errno text. A CoveError passes through. An errno
 * with no mapping becomes a plain Error (the interceptor answers INTERNAL and logs it), so no
 * stack trace or raw message reaches the client. `field` names the request field the path came
 * from, for INVALID_ARGUMENT.
 */
export function fsError(err: unknown, filePath: string, field = "path"): Error {
  if (err instanceof CoveError) return err;
  const meta = { path: filePath };
  switch (errnoCode(err)) {
    case "ENOENT":
      return notFound("FILE_NOT_FOUND", `no such file or directory: ${filePath}`, meta);
    case "EEXIST":
      return alreadyExists("FILE_EXISTS", `already exists: ${filePath}`, meta);
    case "ENOTDIR":
      return failedPrecondition("NOT_A_DIRECTORY", `not a directory: ${filePath}`, meta);
    case "EISDIR":
      return failedPrecondition("IS_A_DIRECTORY", `is a directory: ${filePath}`, meta);
    case "ENOTEMPTY":
      return failedPrecondition("DIRECTORY_NOT_EMPTY", `directory not empty: ${filePath}`, meta);
    case "EACCES":
    case "EPERM":
    case "EROFS":
      return permissionDenied("PERMISSION_DENIED", `permission denied: ${filePath}`, meta);
    case "ELOOP":
      return invalidArgument(field, `too many levels of symbolic links: ${filePath}`);
    case "ENAMETOOLONG":
      return invalidArgument(field, `a name in the path is too long: ${filePath}`);
    case "EINVAL":
      return invalidArgument(field, `invalid operation on ${filePath}`);
    case "ENOSPC":
    case "EDQUOT":
      return resourceExhausted(
        "PAYLOAD_TOO_LARGE",
        `no space left on the device writing ${filePath}`,
        {
          ...meta,
          field,
        },
      );
    case "EMFILE":
    case "ENFILE":
      return resourceExhausted(
        "STREAM_LIMIT_EXCEEDED",
        `too many open files, at ${filePath}`,
        meta,
      );
    case "EBUSY":
    case "ETXTBSY":
      return permissionDenied("PERMISSION_DENIED", `in use (busy): ${filePath}`, meta);
    default:
      return new Error(`filesystem operation failed on ${filePath}`, { cause: err });
  }
}

/** fileNotFound builds the NOT_FOUND error for a missing path. */
export function fileNotFound(filePath: string): CoveError {
  return notFound("FILE_NOT_FOUND", `no such file or directory: ${filePath}`, { path: filePath });
}

/** notADirectory builds the FAILED_PRECONDITION error for a path that must be a directory. */
export function notADirectory(filePath: string): CoveError {
  return failedPrecondition("NOT_A_DIRECTORY", `not a directory: ${filePath}`, { path: filePath });
}

/** isADirectory builds the FAILED_PRECONDITION error for a directory where a file is expected. */
export function isADirectory(filePath: string): CoveError {
  return failedPrecondition("IS_A_DIRECTORY", `is a directory: ${filePath}`, { path: filePath });
}

/** fileExists builds the ALREADY_EXISTS error for a path that must not exist. */
export function fileExists(filePath: string): CoveError {
  return alreadyExists("FILE_EXISTS", `already exists: ${filePath}`, { path: filePath });
}

/** directoryNotEmpty builds the FAILED_PRECONDITION error for a non-empty directory. */
export function directoryNotEmpty(filePath: string): CoveError {
  return failedPrecondition("DIRECTORY_NOT_EMPTY", `directory not empty: ${filePath}`, {
    path: filePath,
  });
}

/** payloadTooLarge builds the RESOURCE_EXHAUSTED error for data above a size cap. */
export function payloadTooLarge(field: string, limitBytes: number, what: string): CoveError {
  return resourceExhausted(
    "PAYLOAD_TOO_LARGE",
    `${what} exceeds the limit of ${limitBytes} bytes`,
    {
      field,
      limitBytes: String(limitBytes),
    },
  );
}
