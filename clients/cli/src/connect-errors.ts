// Hints for the user on top of the SDK's error table: the SDK's toCoveError reads the code and
// the google.rpc.ErrorInfo reason (domain cove.dev); this file turns them into a one-line
// message and a hint, and records which server each call hit.
import { Code, ConnectError } from "@connectrpc/connect";
import { toCoveError } from "@cove/sdk";
import { CliError, type Explained } from "./errors.js";

/** Where a failed call went: the server (e.g. "the Cove API at …") and "Service.Method". */
interface CallSite {
  target: string;
  method: string;
}

/** The call each error came from, remembered by the transports' interceptor. */
const callSites = new WeakMap<object, CallSite>();

/** rememberCallSite records which server and method err came from. */
export function rememberCallSite(err: unknown, site: CallSite): void {
  if (typeof err === "object" && err !== null && !callSites.has(err)) callSites.set(err, site);
}

/** The reason and metadata of a Cove error (the SDK's reading), or undefined when it carries none. */
export function coveErrorInfo(
  err: ConnectError,
): { reason: string; metadata: Record<string, string> } | undefined {
  const cove = toCoveError(err);
  return cove.reason === undefined ? undefined : { reason: cove.reason, metadata: cove.metadata };
}

type Explainer = (err: ConnectError, meta: Record<string, string>) => Explained;

const relogin = "run `cove login --api-key KEY` with a valid key (or set COVE_API_KEY)";

/** Messages for ErrorInfo reasons whose server message benefits from a hint. */
const BY_REASON: Record<string, Explainer> = {
  CREDENTIALS_MISSING: () => ({
    message: "no API key was sent",
    hint: "run `cove login --api-url URL --api-key KEY`, or set COVE_API_KEY",
  }),
  API_KEY_INVALID: () => ({ message: "the API key was refused", hint: relogin }),
  API_KEY_EXPIRED: (_e, m) => ({
    message: `the API key${m.keyPrefix ? ` ${m.keyPrefix}…` : ""} has expired${m.expireTime ? ` (${m.expireTime})` : ""}`,
    hint: relogin,
  }),
  API_KEY_REVOKED: (_e, m) => ({
    message: `the API key${m.keyPrefix ? ` ${m.keyPrefix}…` : ""} was revoked`,
    hint: relogin,
  }),
  TOKEN_INVALID: (e) => ({
    message: `the access token was refused: ${e.rawMessage}`,
    hint: "ask for a new one (for SSH, run `cove sandbox ssh` again)",
  }),
  TOKEN_EXPIRED: (e) => ({
    message: `the access token has expired: ${e.rawMessage}`,
    hint: "ask for a new one (for SSH, run `cove sandbox ssh` again)",
  }),
  PERMISSION_DENIED: (e, m) => ({
    message: m.requiredScope
      ? `the API key lacks the scope "${m.requiredScope}"`
      : `permission denied: ${e.rawMessage}`,
    hint: "use an API key with the needed scope (`cove login --api-key KEY`)",
  }),
  SANDBOX_NOT_FOUND: (e, m) => ({
    message: m.sandboxId ? `no sandbox ${m.sandboxId}` : e.rawMessage,
    hint: "`cove sandbox list` shows your sandboxes",
  }),
  SANDBOX_STATE_CONFLICT: (e, m) => ({
    message: e.rawMessage,
    hint: m.sandboxId
      ? `\`cove sandbox get ${m.sandboxId}\` shows its state`
      : "`cove sandbox get ID` shows its state",
  }),
  SANDBOX_NOT_RECOVERABLE: (e) => ({
    message: e.rawMessage,
    hint: "the only way out is `cove sandbox delete ID`",
  }),
  QUOTA_EXCEEDED: (e, m) => ({
    message: m.quota
      ? `the organization's quota ${m.quota} is used up (limit ${m.limit ?? "?"}, used ${m.used ?? "?"}, requested ${m.requested ?? "?"})`
      : e.rawMessage,
    hint: "stop or delete sandboxes you no longer need, or ask for a larger quota",
  }),
  NO_RUNNER_CAPACITY: (e) => ({
    message: `no runner has room for this sandbox: ${e.rawMessage}`,
    hint: "try smaller --cpu/--memory, free capacity, or add a runner",
  }),
  RATE_LIMITED: (_e, m) => ({
    message: "too many requests",
    hint: m.retryAfter ? `retry after ${m.retryAfter}` : "retry in a moment",
  }),
  WAIT_TIMED_OUT: (e, m) => ({
    message: `${e.rawMessage} (the operation continues on the server)`,
    hint: m.sandboxId ? `\`cove sandbox get ${m.sandboxId}\` shows how it is going` : undefined,
  }),
  INVALID_FIELD: (e, m) => ({
    message: m.field ? `invalid ${m.field}: ${e.rawMessage}` : e.rawMessage,
  }),
  RUNNER_UNAVAILABLE: (e) => ({
    message: e.rawMessage,
    hint: "the runner holding the sandbox is not connected; try again when it is back",
  }),
  DAEMON_UNAVAILABLE: (e) => ({
    message: e.rawMessage,
    hint: "the sandbox may not be started: `cove sandbox start ID`",
  }),
  IMAGE_NOT_FOUND: (e) => ({
    message: e.rawMessage,
    hint: "check the --image reference (it must be a linux/amd64 image the runner can pull)",
  }),
  FILE_NOT_FOUND: (e) => ({ message: e.rawMessage }),
  INTERNAL: (_e, m) => ({
    message: `the server failed unexpectedly${m.requestId ? ` (request ${m.requestId})` : ""}`,
    hint: "the server's log has the cause under the request id",
  }),
};

/** Messages by code, for errors without a reason this table knows. */
function byCode(err: ConnectError, site: CallSite | undefined): Explained {
  const target = site?.target ?? "the server";
  switch (err.code) {
    case Code.Unauthenticated:
      return { message: `not authenticated: ${err.rawMessage}`, hint: relogin };
    case Code.PermissionDenied:
      return { message: `permission denied: ${err.rawMessage}` };
    case Code.Unimplemented:
      return {
        message: `${site?.method ?? "this call"} is not implemented by this server (${target})`,
        hint: "the server is older than this CLI, or does not offer this service yet",
      };
    case Code.Unavailable:
      return {
        message: `cannot reach ${target}: ${err.rawMessage}`,
        hint: "is Cove running? `cove up` shows how to start it; `cove login` sets its URLs",
      };
    case Code.DeadlineExceeded:
      return { message: `timed out: ${err.rawMessage}`, hint: "the operation may still finish" };
    case Code.NotFound:
      return { message: `not found: ${err.rawMessage}` };
    default:
      return { message: err.rawMessage || Code[err.code] || "unknown error" };
  }
}

/** describeError turns any error into a message and hint for the user. */
export function describeError(err: unknown): Explained {
  if (err instanceof CliError) return { message: err.message, hint: err.hint };
  if (err instanceof ConnectError || (err instanceof Error && err.name === "ConnectError")) {
    const connect = ConnectError.from(err);
    const site = callSites.get(err as object);
    const info = coveErrorInfo(connect);
    const explainer = info ? BY_REASON[info.reason] : undefined;
    const explained = explainer ? explainer(connect, info?.metadata ?? {}) : byCode(connect, site);
    const code = Code[connect.code] ?? String(connect.code);
    const tag = info ? `${codeName(code)}, ${info.reason}` : codeName(code);
    return { message: `${explained.message} [${tag}]`, hint: explained.hint };
  }
  if (err instanceof Error) return { message: err.message };
  return { message: String(err) };
}

/** codeName turns "PermissionDenied" into "PERMISSION_DENIED", as gRPC spells codes. */
function codeName(code: string): string {
  return code.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}
