// The running-stack file of `npm start`: <data folder>/running.json, written once every part is
// ready and removed on a clean stop, so a second `npm start` (or `cove up`, which reads the
// same file) can say that Cove is already running and where, instead of colliding with it.
import * as fs from "node:fs";
import * as path from "node:path";

/** What running.json holds. */
export interface RunningStack {
  /** The supervisor's process id. */
  pid: number;
  /** When it started (ISO 8601). */
  startTime: string;
  /** The API server's URL. */
  apiUrl: string;
  /** The proxy's URL. */
  proxyUrl: string;
  /** The SSH gateway's port. */
  sshPort: number;
}

/** runningStackFile is where the file lives for a data folder. */
export function runningStackFile(dataDir: string): string {
  return path.join(dataDir, "running.json");
}

/** isAlive says whether a process with this id exists. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** readRunningStack returns the stack recorded in dataDir if its process still lives (a stale file is removed). */
export function readRunningStack(dataDir: string): RunningStack | undefined {
  const file = runningStackFile(dataDir);
  let stack: RunningStack;
  try {
    stack = JSON.parse(fs.readFileSync(file, "utf8")) as RunningStack;
  } catch {
    return undefined;
  }
  if (Number.isInteger(stack.pid) && stack.pid !== process.pid && isAlive(stack.pid)) return stack;
  fs.rmSync(file, { force: true });
  return undefined;
}

/** writeRunningStack records this stack. */
export function writeRunningStack(dataDir: string, stack: RunningStack): void {
  fs.writeFileSync(runningStackFile(dataDir), `${JSON.stringify(stack, null, 2)}\n`, {
    mode: 0o600,
  });
}

/** removeRunningStack removes the file if it is this process's. */
export function removeRunningStack(dataDir: string, pid: number): void {
  const file = runningStackFile(dataDir);
  try {
    if ((JSON.parse(fs.readFileSync(file, "utf8")) as RunningStack).pid === pid) fs.rmSync(file);
  } catch {
    // none, or not ours
  }
}
