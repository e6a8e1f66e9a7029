import * as os from "node:os";
import * as path from "node:path";

/** Limits the daemon enforces; every one is explicit and documented in the toolbox protos. */
export interface DaemonLimits {
  /** Largest message accepted or sent, in bytes. */
  maxMessageBytes: number;
  /** Processes running at once (Start, Exec, sessions, code runs). */
  maxRunningProcesses: number;
  /** Exited processes kept for reattach. */
  maxRetainedProcesses: number;
  /** How long an exited process stays addressable, in ms. */
  retainExitedMs: number;
  /** Ring buffer per output stream (stdout, stderr, pty), in bytes. */
  outputBufferBytes: number;
  /** Silence after which a server stream sends a keepalive, in ms. */
  keepaliveMs: number;
  /** Silence after which a client or bidi stream is ended, in ms. */
  clientStreamIdleMs: number;
  /** A filesystem helper with no call open for this long is stopped (restarted on demand), in ms. */
  filesystemHelperIdleMs: number;
}

/** Everything the daemon needs to know at start-up. */
export interface DaemonConfig {
  /** Unix socket to serve on (inside a sandbox: /run/cove/daemon.sock). */
  socketPath: string;
  /** Home of the default user: relative paths resolve here. */
  home: string;
  /** Default OS user for processes and file ownership; undefined runs as the daemon's own user. */
  defaultUser: string | undefined;
  /** Where the sandbox's environment is read from (e.g. /proc/1/environ); unset: our own. */
  sandboxEnvFile: string | undefined;
  /** Path of cove-init (set by cove-init itself in a kit), used to signal other uids' processes. */
  initPath: string | undefined;
  /** The command to supervise as the image's own workload, if any (argv). */
  entrypoint: string[];
  /** Limits, see DaemonLimits. */
  limits: DaemonLimits;
  /**
   * argv that starts a filesystem helper (Node, its flags, the helper's entry). A daemon
   * running as root with a default user other than root serves FilesystemService through
   * one helper running as that user; without this it refuses filesystem calls (UNAVAILABLE)
   * rather than make them as root.
   */
  filesystemHelper?: readonly string[];
}

/** The default limits. */
export const defaultLimits: DaemonLimits = {
  maxMessageBytes: 16 * 1024 * 1024,
  maxRunningProcesses: 512,
  maxRetainedProcesses: 256,
  retainExitedMs: 10 * 60_000,
  outputBufferBytes: 1024 * 1024,
  keepaliveMs: 15_000,
  clientStreamIdleMs: 60_000,
  filesystemHelperIdleMs: 10 * 60_000,
};

/**
 * loadConfig reads COVE_DAEMON_* variables: SOCKET (default /run/cove/daemon.sock), HOME
 * (default the user's home or the process's), USER (default none: the daemon's own user),
 * SANDBOX_ENV (a NUL-separated environment file for user commands, e.g. /proc/1/environ, or
 * "parent" for the parent's — cove-init's — environment),
 * and the image's command as the remaining argv.
 */
export function loadConfig(env: NodeJS.ProcessEnv, argv: string[]): DaemonConfig {
  return {
    socketPath: env.COVE_DAEMON_SOCKET ?? "/run/cove/daemon.sock",
    home: path.resolve(env.COVE_DAEMON_HOME ?? os.homedir()),
    defaultUser: env.COVE_DAEMON_USER || undefined,
    sandboxEnvFile:
      env.COVE_DAEMON_SANDBOX_ENV === "parent"
        ? `/proc/${process.ppid}/environ`
        : env.COVE_DAEMON_SANDBOX_ENV || undefined,
    initPath: env.COVE_DAEMON_INIT || undefined,
    entrypoint: argv,
    limits: {
      ...defaultLimits,
      keepaliveMs: Number(env.COVE_DAEMON_KEEPALIVE_MS ?? defaultLimits.keepaliveMs),
    },
  };
}
