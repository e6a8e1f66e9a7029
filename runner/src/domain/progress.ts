// What long-running domain operations (pulls, builds, pushes, archives) report while they run;
// the command executor turns it into CommandProgress messages for the control plane.

/** Where a log line came from. */
export type LogSource = "stdout" | "stderr" | "system";

/** Progress receives a long operation's stages and log lines. */
export interface Progress {
  /** stage names the current step ("pulling", "building", "uploading" …), with a percentage when known. */
  stage(stage: string, percent?: number): void;
  /** line adds one log line (without its newline) to the current stage. */
  line(text: string, source?: LogSource): void;
}

/** A Progress that reports nothing (for callers outside a command). */
export const silentProgress: Progress = { stage() {}, line() {} };
