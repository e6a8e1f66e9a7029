// Whether a failed command may succeed when the server tries it again later (CommandError's
// retryable): by default only UNAVAILABLE, RESOURCE_EXHAUSTED and ABORTED are; a domain error
// of another code can be flagged explicitly (an image still in use may be free later).
import type { CoveError } from "@cove/common";

const flag = Symbol("cove.retryable");

/** markRetryable flags a domain error as one the server may retry. */
export function markRetryable<E extends CoveError>(err: E): E {
  (err as E & { [flag]?: boolean })[flag] = true;
  return err;
}

/** isMarkedRetryable says whether markRetryable flagged the error. */
export function isMarkedRetryable(err: unknown): boolean {
  return typeof err === "object" && err !== null && (err as { [flag]?: boolean })[flag] === true;
}
