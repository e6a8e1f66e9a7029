/**
 * Calls the daemon makes itself to a filesystem helper, so that a file it needs is read with the
 * sandbox user's identity and never as root: a Connect client whose requests are streams on
 * the helper's HTTP/2 session (the same one relayed calls use). The first such call is the
 * DocumentReader of LspService: DidOpen without text reads the document through the helper, so
 * a symlink to /etc/shadow, or a file only root may read, is refused by the kernel.
 */
import type * as http2 from "node:http2";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { CoveError, type ErrorCode, type ErrorReasonName, invalidArgument } from "@cove/common";
import { ErrorReason } from "@cove/gen-ts/cove/errors/v1/error_reason_pb.js";
import { FilesystemService } from "@cove/gen-ts/cove/toolbox/v1/filesystem_service_pb.js";
import { ErrorInfoSchema } from "@cove/gen-ts/google/rpc/error_details_pb.js";
import { type DocumentReader, MAX_DOCUMENT_BYTES } from "../domain/lsp-document.js";
import type { OsUser } from "../domain/users.js";
import type { FilesystemHelpers } from "./helper-pool.js";

/** The origin of calls on a helper's session (it serves one origin only). */
const HELPER_ORIGIN = "http://filesystem-helper";

/** Chunk size asked of the helper: its largest, so 8 MiB is two messages. */
const READ_CHUNK_BYTES = 4 * 1024 * 1024;

/** The domain's codes by Connect code, for errors the helper answered. */
const errorCodes: Partial<Record<Code, ErrorCode>> = {
  [Code.InvalidArgument]: "invalidArgument",
  [Code.NotFound]: "notFound",
  [Code.AlreadyExists]: "alreadyExists",
  [Code.FailedPrecondition]: "failedPrecondition",
  [Code.ResourceExhausted]: "resourceExhausted",
  [Code.PermissionDenied]: "permissionDenied",
  [Code.Unavailable]: "unavailable",
  [Code.DeadlineExceeded]: "deadlineExceeded",
  [Code.OutOfRange]: "outOfRange",
  [Code.Aborted]: "aborted",
};

/** What connect-node asks of an HTTP/2 session manager (the type is not exported by name). */
type SessionManager = NonNullable<Parameters<typeof createGrpcTransport>[0]["sessionManager"]>;

/** A session manager that issues every request on `user`'s helper session, starting the helper. */
function helperSessions(helpers: FilesystemHelpers, user: OsUser): SessionManager {
  return {
    authority: HELPER_ORIGIN,
    async request(method, path, headers, options): Promise<http2.ClientHttp2Stream> {
      const session = helpers.session(user);
      if (!session) {
        throw new ConnectError(
          `the filesystem helper for user ${user.name} is not running; try again`,
          Code.Unavailable,
        );
      }
      return session.request({ ...headers, ":method": method, ":path": path }, options);
    },
    notifyResponseByteRead() {},
  };
}

/**
 * fromHelperError turns what a helper call failed with into the domain's CoveError (code,
 * reason and message kept); UNAVAILABLE (DAEMON_UNAVAILABLE) when the helper was not reached.
 */
function fromHelperError(err: unknown, user: OsUser): CoveError {
  if (err instanceof CoveError) return err;
  const connect = ConnectError.from(err);
  const code = errorCodes[connect.code];
  if (!code) {
    return new CoveError(
      "unavailable",
      "DAEMON_UNAVAILABLE",
      `the filesystem helper for user ${user.name} failed: ${connect.rawMessage}`,
      { user: user.name },
    );
  }
  const info = connect.findDetails(ErrorInfoSchema)[0];
  const reason =
    info && info.reason !== "UNSPECIFIED" && info.reason in ErrorReason
      ? (info.reason as ErrorReasonName)
      : code === "unavailable"
        ? "DAEMON_UNAVAILABLE"
        : "INTERNAL";
  return new CoveError(code, reason, connect.rawMessage, info ? { ...info.metadata } : {});
}

/**
 * createHelperDocumentReader reads documents as `user` through the user's filesystem helper
 * (ReadFile: only regular files, opened non-blocking and checked before any read), keeping
 * LspService's rules: at most 8 MiB, and the reasons a document read always had
 * (FILE_ACCESS_DENIED, NOT_A_REGULAR_FILE for directories too). Nothing is ever read as root:
 * when the helper cannot run, the read fails UNAVAILABLE.
 */
export function createHelperDocumentReader(
  helpers: FilesystemHelpers,
  user: OsUser,
): DocumentReader {
  const client = createClient(
    FilesystemService,
    createGrpcTransport({ baseUrl: HELPER_ORIGIN, sessionManager: helperSessions(helpers, user) }),
  );
  return async (file) => {
    const chunks: Uint8Array[] = [];
    let total = 0;
    const abort = new AbortController();
    try {
      const stream = client.readFile(
        {
          path: file,
          length: BigInt(MAX_DOCUMENT_BYTES + 1),
          chunkSizeBytes: READ_CHUNK_BYTES,
        },
        { signal: abort.signal },
      );
      for await (const part of stream) {
        if (part.info && part.info.sizeBytes > BigInt(MAX_DOCUMENT_BYTES)) {
          throw invalidArgument("path", `${file} is larger than 8 MiB; send its text instead`);
        }
        total += part.data.byteLength;
        if (total > MAX_DOCUMENT_BYTES) {
          throw invalidArgument("path", `${file} is larger than 8 MiB; send its text instead`);
        }
        if (part.data.byteLength > 0) chunks.push(part.data);
      }
    } catch (err) {
      const error = fromHelperError(err, user);
      if (error.code === "permissionDenied") {
        throw new CoveError(
          "permissionDenied",
          "FILE_ACCESS_DENIED",
          `${file} cannot be read by user ${user.name}`,
          { path: file, user: user.name },
        );
      }
      if (error.reason === "IS_A_DIRECTORY") {
        throw new CoveError("failedPrecondition", "NOT_A_REGULAR_FILE", `${file} is a directory`, {
          path: file,
        });
      }
      throw error;
    } finally {
      abort.abort();
    }
    return Buffer.concat(chunks, total).toString("utf8");
  };
}
