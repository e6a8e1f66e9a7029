import { type ChildProcess, spawn } from "node:child_process";
import type { Logger } from "@cove/common";
import type { OsUser } from "./users.js";

/** A supervised image command. */
export interface Entrypoint {
  /** stop sends SIGTERM to the command's process group, then SIGKILL after 2 s. */
  stop(): Promise<void>;
}

/**
 * superviseEntrypoint starts the image's own command (if any) in its own process group with
 * the sandbox's environment, as the sandbox's default user, logs its exit, and stops it with
 * the daemon. The daemon keeps serving when the command exits: the sandbox stays usable.
 */
export function superviseEntrypoint(
  argv: string[],
  logger: Logger,
  options: { env: Record<string, string>; user: OsUser | undefined },
): Entrypoint {
  const [file, ...args] = argv;
  if (file === undefined) return { stop: async () => {} };
  const env = { ...options.env };
  if (options.user) {
    env.HOME = options.user.home;
    env.USER = options.user.name;
    env.LOGNAME = options.user.name;
  }
  let child: ChildProcess | undefined = spawn(file, args, {
    stdio: "inherit",
    detached: true,
    env,
    cwd: options.user?.home ?? "/",
    uid: options.user?.uid,
    gid: options.user?.gid,
  });
  const exited = new Promise<void>((resolve) => {
    child?.on("exit", (code, signal) => {
      logger.info("image command exited", { code, signal });
      child = undefined;
      resolve();
    });
    child?.on("error", (err) => {
      logger.warn("image command failed to start", { err });
      child = undefined;
      resolve();
    });
  });
  return {
    async stop() {
      const pid = child?.pid;
      if (pid === undefined) return;
      try {
        process.kill(-pid, "SIGTERM");
      } catch {
        return;
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-pid, "SIGKILL");
        } catch {
          // already gone
        }
      }, 2_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
