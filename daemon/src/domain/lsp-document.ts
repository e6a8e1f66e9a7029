// How LspService reads a document opened without text: a regular file of at most 8 MiB, with
// the identity of the user the language server runs as.
import * as fs from "node:fs";
import { CoveError, failedPrecondition, invalidArgument, notFound } from "@cove/common";

/** Largest document text, in bytes. */
export const MAX_DOCUMENT_BYTES = 8 * 1024 * 1024;

/**
 * DocumentReader reads a document's text from disk for DidOpen without text, with the identity
 * of the user the language server runs as: a regular file of at most 8 MiB. It throws
 * NOT_FOUND (FILE_NOT_FOUND), PERMISSION_DENIED (FILE_ACCESS_DENIED), FAILED_PRECONDITION
 * (NOT_A_REGULAR_FILE) or INVALID_ARGUMENT (too large).
 */
export type DocumentReader = (file: string) => Promise<string>;

/**
 * readDocumentHere is the DocumentReader of a daemon that runs user code as itself (no distinct
 * sandbox user): it reads with the daemon's own identity, a regular file of at most 8 MiB
 * (FIFOs and devices are refused without being read). A root daemon with a sandbox user reads
 * through that user's filesystem helper instead (filesystem-helper/helper-client.ts).
 */
export async function readDocumentHere(file: string): Promise<string> {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") {
      throw notFound("FILE_NOT_FOUND", `${file} does not exist`, { path: file });
    }
    if (code === "EACCES" || code === "EPERM") {
      throw new CoveError("permissionDenied", "FILE_ACCESS_DENIED", `${file} cannot be read`, {
        path: file,
      });
    }
    throw err;
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) {
      throw failedPrecondition("NOT_A_REGULAR_FILE", `${file} is not a regular file`, {
        path: file,
      });
    }
    if (stat.size > MAX_DOCUMENT_BYTES) {
      throw invalidArgument("path", `${file} is larger than 8 MiB; send its text instead`);
    }
    return fs.readFileSync(fd, "utf8");
  } finally {
    fs.closeSync(fd);
  }
}
