/**
 * The sandbox state machine: which states are transitional and where they settle, what every
 * SandboxService call does from every state, and which runner observations are believed while
 * the server drives a sandbox towards its desired state. Pure data and functions; the manager
 * applies them inside its transactions.
 *
 * | state             | kind         | settles to | start    | stop     | archive     | delete  | recover | update | tokens   |
 * |-------------------|--------------|------------|----------|----------|-------------|---------|---------|--------|----------|
 * | PENDING_BUILD     | transitional | STARTED    | as is    | conflict | conflict    | destroy | conflict| ok     | ok       |
 * | BUILDING_SNAPSHOT | transitional | STARTED    | as is    | conflict | conflict    | destroy | conflict| ok     | ok       |
 * | PULLING_SNAPSHOT  | transitional | STARTED    | as is    | conflict | conflict    | destroy | conflict| ok     | ok       |
 * | CREATING          | transitional | STARTED    | as is    | conflict | conflict    | destroy | conflict| ok     | ok       |
 * | STARTING          | transitional | STARTED    | as is    | stop     | conflict    | destroy | conflict| ok     | ok       |
 * | STARTED           | stable       |            | as is    | stop     | conflict    | destroy | conflict| ok     | ok       |
 * | STOPPING          | transitional | STOPPED    | conflict | as is    | conflict    | destroy | conflict| ok     | ok       |
 * | STOPPED           | stable       |            | start    | as is    | unsupported | destroy | conflict| ok     | ok       |
 * | ARCHIVING         | transitional | ARCHIVED   | conflict | conflict | as is       | destroy | conflict| ok     | ok       |
 * | ARCHIVED          | stable       |            | unsupp.  | conflict | as is       | destroy | conflict| ok     | ok       |
 * | RESTORING         | transitional | STARTED    | as is    | conflict | conflict    | destroy | conflict| ok     | ok       |
 * | DESTROYING        | transitional | DESTROYED  | conflict | conflict | conflict    | as is   | conflict| ok     | conflict |
 * | DESTROYED         | final        |            | conflict | conflict | conflict    | as is   | conflict| conflict| conflict|
 * | ERROR             | stable       |            | conflict | conflict | conflict    | destroy | recover | ok     | ok       |
 *
 * "as is" returns the sandbox unchanged (and waits when asked); "conflict" is
 * FAILED_PRECONDITION SANDBOX_STATE_CONFLICT with state and allowedStates; "unsupported" is
 * FAILED_PRECONDITION because runners cannot archive or restore yet (no sandbox is ever
 * ARCHIVED). "destroy" goes to DESTROYING with a destroySandbox command, or straight to
 * DESTROYED when no runner ever received the sandbox or its runner is gone (see the manager).
 * What each state occupies (quota, placement, runner capacity) is occupancy.ts.
 */
import type { SandboxStateName } from "./ports.js";

/** Every state, in the proto's order. */
export const ALL_STATES: readonly SandboxStateName[] = [
  "PENDING_BUILD",
  "BUILDING_SNAPSHOT",
  "PULLING_SNAPSHOT",
  "CREATING",
  "STARTING",
  "STARTED",
  "STOPPING",
  "STOPPED",
  "ARCHIVING",
  "ARCHIVED",
  "RESTORING",
  "DESTROYING",
  "DESTROYED",
  "ERROR",
];

/** The states a server drives a sandbox towards (desired_state). */
export type DesiredStateName = "STARTED" | "STOPPED" | "ARCHIVED" | "DESTROYED";

/** What StartSandbox does from a state. */
export type StartAction = "asIs" | "start" | "unsupported" | "conflict";
/** What StopSandbox does from a state. */
export type StopAction = "asIs" | "stop" | "conflict";
/** What ArchiveSandbox does from a state. */
export type ArchiveAction = "asIs" | "unsupported" | "conflict";
/** What DeleteSandbox does from a state. */
export type DeleteAction = "asIs" | "destroy";

/** One row of the state table. */
export interface StateRule {
  /** transitional states settle into `settlesTo`; stable ones stay until something happens. */
  kind: "transitional" | "stable" | "final";
  /** For transitional states: the stable state they lead to. */
  settlesTo?: DesiredStateName;
  /** StartSandbox. */
  start: StartAction;
  /** StopSandbox. */
  stop: StopAction;
  /** ArchiveSandbox. */
  archive: ArchiveAction;
  /** DeleteSandbox (never a conflict: delete works from every state). */
  delete: DeleteAction;
  /** RecoverSandbox is allowed (only from ERROR, and only when recoverable). */
  recover: boolean;
  /** UpdateSandbox is allowed. */
  update: boolean;
  /** CreatePreviewUrl, CreateSshAccess and CreateSandboxToken are allowed. */
  tokens: boolean;
}

const starting = (settlesTo: DesiredStateName, stop: StopAction): StateRule => ({
  kind: "transitional",
  settlesTo,
  start: "asIs",
  stop,
  archive: "conflict",
  delete: "destroy",
  recover: false,
  update: true,
  tokens: true,
});

/** STATE_TABLE is the state machine, one rule per state (see the table above). */
export const STATE_TABLE: Readonly<Record<SandboxStateName, StateRule>> = {
  PENDING_BUILD: starting("STARTED", "conflict"),
  BUILDING_SNAPSHOT: starting("STARTED", "conflict"),
  PULLING_SNAPSHOT: starting("STARTED", "conflict"),
  CREATING: starting("STARTED", "conflict"),
  STARTING: starting("STARTED", "stop"),
  STARTED: { ...starting("STARTED", "stop"), kind: "stable", settlesTo: undefined },
  STOPPING: {
    kind: "transitional",
    settlesTo: "STOPPED",
    start: "conflict",
    stop: "asIs",
    archive: "conflict",
    delete: "destroy",
    recover: false,
    update: true,
    tokens: true,
  },
  STOPPED: {
    kind: "stable",
    start: "start",
    stop: "asIs",
    archive: "unsupported",
    delete: "destroy",
    recover: false,
    update: true,
    tokens: true,
  },
  ARCHIVING: {
    kind: "transitional",
    settlesTo: "ARCHIVED",
    start: "conflict",
    stop: "conflict",
    archive: "asIs",
    delete: "destroy",
    recover: false,
    update: true,
    tokens: true,
  },
  ARCHIVED: {
    kind: "stable",
    start: "unsupported",
    stop: "conflict",
    archive: "asIs",
    delete: "destroy",
    recover: false,
    update: true,
    tokens: true,
  },
  RESTORING: starting("STARTED", "conflict"),
  DESTROYING: {
    kind: "transitional",
    settlesTo: "DESTROYED",
    start: "conflict",
    stop: "conflict",
    archive: "conflict",
    delete: "asIs",
    recover: false,
    update: true,
    tokens: false,
  },
  DESTROYED: {
    kind: "final",
    start: "conflict",
    stop: "conflict",
    archive: "conflict",
    delete: "asIs",
    recover: false,
    update: false,
    tokens: false,
  },
  ERROR: {
    kind: "stable",
    start: "conflict",
    stop: "conflict",
    archive: "conflict",
    delete: "destroy",
    recover: true,
    update: true,
    tokens: true,
  },
};

/** allowedStates lists the states from which `pick` accepts a call (for error metadata). */
export function allowedStates(pick: (rule: StateRule) => boolean): SandboxStateName[] {
  return ALL_STATES.filter((state) => pick(STATE_TABLE[state]));
}

/** isTransitional says whether a state is on its way to another. */
export function isTransitional(state: SandboxStateName): boolean {
  return STATE_TABLE[state].kind === "transitional";
}

/** The observed states that lie on the way to each desired state (runner reports in them are believed). */
const PATH_TO: Record<DesiredStateName, readonly SandboxStateName[]> = {
  STARTED: ["PULLING_SNAPSHOT", "CREATING", "STARTING", "STARTED", "RESTORING"],
  STOPPED: ["STOPPING", "STOPPED"],
  ARCHIVED: ["ARCHIVING", "ARCHIVED"],
  DESTROYED: ["DESTROYING", "DESTROYED"],
};

/** onPathTo says whether an observed state is on the way to the desired state. */
export function onPathTo(desired: DesiredStateName, observed: SandboxStateName): boolean {
  return PATH_TO[desired].includes(observed);
}

/** The desired state each sandbox command drives towards. */
export const COMMAND_GOAL: Readonly<Record<string, DesiredStateName>> = {
  createSandbox: "STARTED",
  startSandbox: "STARTED",
  restoreSandbox: "STARTED",
  stopSandbox: "STOPPED",
  archiveSandbox: "ARCHIVED",
  destroySandbox: "DESTROYED",
};

/**
 * Error reasons that retrying cannot fix: a sandbox in ERROR for one of them is not
 * recoverable (only DeleteSandbox helps).
 */
export const PERMANENT_ERROR_REASONS: ReadonlySet<string> = new Set([
  "IMAGE_NOT_FOUND",
  "IMAGE_UNSUPPORTED",
  "SNAPSHOT_BUILD_FAILED",
  "RUNTIME_UNAVAILABLE",
]);
