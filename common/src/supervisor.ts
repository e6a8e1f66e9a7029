/**
 * A small process supervisor for running Cove's parts (API server, runner, proxy) as child
 * processes of one command (`npm start`): each part is a TypeScript entry point run with
 * `node --import tsx`, says it is ready with an IPC message `{ cove: "ready", … }`, and is
 * restarted with backoff when it exits without being asked to. A fault that ends one part
 * (a bug, the last-resort handler) costs that part a restart, never the others.
 */
import { type ChildProcess, spawn } from "node:child_process";
import type { Logger } from "./logger.js";

/** One supervised part. */
export interface PartSpec {
  /** Short name for logs ("server", "runner", "proxy"). */
  name: string;
  /** The entry point (a .ts file), run with `node --import tsx`. */
  script: string;
  /** Its environment (the whole environment: nothing is inherited implicitly). */
  env: NodeJS.ProcessEnv;
  /** Working directory (where `tsx` resolves from). */
  cwd: string;
  /** How long to wait for its ready message, ms. Default 120 000. */
  readyTimeoutMs?: number;
}

/** What a part said when it became ready (its IPC message without `cove`). */
export type ReadyInfo = Record<string, unknown>;

/** Restart pacing. */
export interface RestartPolicy {
  /** First delay before a restart, ms. Default 1 000. */
  initialDelayMs: number;
  /** Longest delay, ms. Default 30 000. */
  maxDelayMs: number;
  /** A part that stayed up this long starts again from initialDelayMs, ms. Default 60 000. */
  resetAfterMs: number;
}

/** A running supervisor. */
export interface Supervisor {
  /** start spawns a part and resolves with its ready message; rejects if it exits first. */
  start(spec: PartSpec): Promise<ReadyInfo>;
  /** restarts says how many times a part was restarted. */
  restarts(name: string): number;
  /** pid is a part's current process id (undefined while it is down). */
  pid(name: string): number | undefined;
  /** stop ends every part (SIGTERM, SIGKILL after graceMs), last started first. */
  stop(graceMs?: number): Promise<void>;
}

interface Part {
  spec: PartSpec;
  child: ChildProcess | undefined;
  restarts: number;
  delayMs: number;
  startedAt: number;
  timer: NodeJS.Timeout | undefined;
}

const defaultPolicy: RestartPolicy = {
  initialDelayMs: 1_000,
  maxDelayMs: 30_000,
  resetAfterMs: 60_000,
};

/** createSupervisor supervises parts as described in the file comment. */
export function createSupervisor(logger: Logger, policy: Partial<RestartPolicy> = {}): Supervisor {
  const pacing = { ...defaultPolicy, ...policy };
  const parts = new Map<string, Part>();
  let stopping = false;

  const launch = (part: Part): Promise<ReadyInfo> => {
    const { spec } = part;
    const child = spawn(process.execPath, ["--import", "tsx", spec.script], {
      cwd: spec.cwd,
      env: spec.env,
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      // Its own process group: a terminal's Ctrl-C reaches only the supervisor, which stops
      // the parts in order. A part whose supervisor dies sees its IPC channel disconnect.
      detached: true,
    });
    part.child = child;
    part.startedAt = Date.now();
    return new Promise<ReadyInfo>((resolve, reject) => {
      let ready = false;
      const timer = setTimeout(() => {
        if (ready) return;
        logger.error("a part did not become ready in time; stopping it", { part: spec.name });
        child.kill("SIGKILL");
      }, spec.readyTimeoutMs ?? 120_000);
      child.on("message", (message: unknown) => {
        const m = message as { cove?: unknown } | null;
        if (ready || typeof m !== "object" || m === null || m.cove !== "ready") return;
        ready = true;
        clearTimeout(timer);
        logger.info("a part is ready", { part: spec.name, pid: child.pid });
        const { cove: _, ...info } = m as Record<string, unknown>;
        resolve(info);
      });
      child.on("error", (err) => {
        logger.error("a part could not be started", { part: spec.name, err });
      });
      child.on("exit", (code, signal) => {
        clearTimeout(timer);
        if (part.child === child) part.child = undefined;
        if (!ready) {
          reject(
            new Error(`${spec.name} exited before it was ready (${signal ?? `code ${code}`})`),
          );
          return;
        }
        if (stopping) return;
        const upMs = Date.now() - part.startedAt;
        if (upMs >= pacing.resetAfterMs) part.delayMs = pacing.initialDelayMs;
        logger.error("a part exited unexpectedly; restarting it", {
          part: spec.name,
          code,
          signal,
          upMs,
          restartInMs: part.delayMs,
        });
        scheduleRestart(part);
      });
    });
  };

  const scheduleRestart = (part: Part) => {
    const delay = part.delayMs;
    part.delayMs = Math.min(part.delayMs * 2, pacing.maxDelayMs);
    part.timer = setTimeout(() => {
      part.timer = undefined;
      if (stopping) return;
      part.restarts++;
      launch(part).then(
        () => logger.info("a part is back", { part: part.spec.name, restarts: part.restarts }),
        (err: unknown) => {
          if (stopping) return;
          logger.error("a restarted part failed to start; trying again", {
            part: part.spec.name,
            err: String(err),
          });
          scheduleRestart(part);
        },
      );
    }, delay);
  };

  return {
    start(spec) {
      if (parts.has(spec.name)) throw new Error(`part ${spec.name} is already supervised`);
      const part: Part = {
        spec,
        child: undefined,
        restarts: 0,
        delayMs: pacing.initialDelayMs,
        startedAt: 0,
        timer: undefined,
      };
      parts.set(spec.name, part);
      return launch(part);
    },
    restarts: (name) => parts.get(name)?.restarts ?? 0,
    pid: (name) => parts.get(name)?.child?.pid,
    async stop(graceMs = 10_000) {
      stopping = true;
      for (const part of [...parts.values()].reverse()) {
        clearTimeout(part.timer);
        const child = part.child;
        if (!child || child.exitCode !== null || child.signalCode !== null) continue;
        await new Promise<void>((resolve) => {
          const kill = setTimeout(() => child.kill("SIGKILL"), graceMs);
          child.once("exit", () => {
            clearTimeout(kill);
            resolve();
          });
          child.kill("SIGTERM");
        });
      }
    },
  };
}
