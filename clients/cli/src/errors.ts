// The CLI's own errors: usage errors (exit 2) and errors it explains with a hint (exit 1).
// Connect errors are explained by connect-errors.ts, loaded only when one happens.

/** UsageError is a bad command line: the CLI exits 2 and points at --help. */
export class UsageError extends Error {
  /** The command path the error is about, for the "run … --help" hint (else the parsed one). */
  readonly path: { name: string }[] | undefined;
  constructor(message: string, path?: { name: string }[]) {
    super(message);
    this.name = "UsageError";
    this.path = path;
  }
}

/** CliError is a failure the CLI explains itself: the CLI exits 1 with message and hint. */
export class CliError extends Error {
  /** What to do about it, shown on a second line. */
  readonly hint: string | undefined;
  constructor(message: string, hint?: string) {
    super(message);
    this.name = "CliError";
    this.hint = hint;
  }
}

/** A message and a hint for one failure. */
export interface Explained {
  /** One line saying what went wrong. */
  message: string;
  /** One line saying what to do, when there is something to say. */
  hint?: string;
}
