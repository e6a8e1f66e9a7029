/**
 * The last resort of every Cove process: an exception or rejection that nothing handled is a
 * bug (every socket, stream, child process and promise that a request can touch has its own
 * handler), so it is logged with its stack and the process exits with code 70 (EX_SOFTWARE)
 * instead of limping on in an unknown state. Under `npm start` the supervisor restarts just
 * that part; elsewhere the service manager does.
 */
import type { Logger } from "./logger.js";

/** The exit code after an unhandled error (sysexits' EX_SOFTWARE). */
export const UNHANDLED_EXIT_CODE = 70;

/**
 * installLastResort adds the process-wide handlers once; `beforeExit` (e.g. stopping an
 * embedded database) gets up to 2 s before the process exits. Returns a function that
 * removes them (for tests).
 */
export function installLastResort(
  logger: Logger,
  beforeExit?: () => Promise<unknown> | unknown,
): () => void {
  let exiting = false;
  const fail = (kind: string) => (err: unknown) => {
    logger.error(`${kind}: a bug, not a bad request; exiting so this part is restarted`, { err });
    if (exiting) return;
    exiting = true;
    const exit = () => process.exit(UNHANDLED_EXIT_CODE);
    const timer = setTimeout(exit, 2_000);
    timer.unref();
    Promise.resolve()
      .then(() => beforeExit?.())
      .catch(() => {})
      .finally(exit);
  };
  const onException = fail("uncaught exception");
  const onRejection = fail("unhandled promise rejection");
  process.on("uncaughtException", onException);
  process.on("unhandledRejection", onRejection);
  return () => {
    process.off("uncaughtException", onException);
    process.off("unhandledRejection", onRejection);
  };
}
