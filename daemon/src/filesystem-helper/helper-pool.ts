/**
 * The filesystem helpers: one long-lived child process per sandbox user, started with that
 * user's uid and gid, that serves cove.toolbox.v1.FilesystemService over HTTP/2 on a socket
 * pair inherited as its fd 3. The daemon runs as root; relaying filesystem calls to a helper
 * makes the kernel apply the user's own permissions to every path, symlink and ownership,
 * so no call can do what the user could not. The channel has no name in the filesystem, so
 * nothing in the sandbox can stand in for a helper.
 */
import { type ChildProcess, spawn } from "node:child_process";
import * as http2 from "node:http2";
import type * as net from "node:net";
import type { Logger } from "@cove/common";
import type { DaemonLimits } from "../config.js";
import type { OsUser } from "../domain/users.js";
import { relayToHelper } from "./relay.js";

/** What a helper is told at start, in COVE_FS_HELPER (JSON). */
export interface HelperSettings {
  /** Relative paths resolve here (the user's home). */
  home: string;
  /** The daemon's limits (message caps, keepalives, client stream idle time). */
  limits: DaemonLimits;
}

/** HTTP/2 receive window of the helper hop, per stream and per connection: uploads want it wide. */
export const HELPER_WINDOW_BYTES = 16 * 1024 * 1024;

/** Largest HTTP/2 frame on the helper hop: fewer, larger frames cost less per byte. */
export const HELPER_FRAME_BYTES = 1024 * 1024;

/** Options of FilesystemHelpers. */
export interface FilesystemHelpersOptions {
  /** argv that starts a helper (the Node binary, its flags, the helper's entry script). */
  command: readonly string[];
  /** What each helper gets, by user. */
  settings: (user: OsUser) => HelperSettings;
  /** Where start and exit are logged. */
  logger: Logger;
  /** Least time between two starts of one user's helper (a crash loop costs no more). Default 1 s. */
  restartDelayMs?: number;
  /** A helper with no call open for this long is stopped (it starts again on demand). Default 10 min. */
  idleMs?: number;
}

interface Running {
  child: ChildProcess;
  session: http2.ClientHttp2Session;
  /** Calls relayed and not yet closed. */
  open: number;
  /** Stops an unused helper. */
  idle?: NodeJS.Timeout;
}

/** FilesystemHelpers starts helpers on demand, restarts them when they die, and stops them. */
export class FilesystemHelpers {
  private readonly running = new Map<number, Running>();
  private readonly lastStart = new Map<number, number>();
  private closed = false;

  constructor(private readonly options: FilesystemHelpersOptions) {}

  /**
   * relay passes one HTTP/2 call to `user`'s helper, starting the helper when none is running.
   * False when it may not be restarted yet or cannot be started at all: the caller answers.
   */
  relay(user: OsUser, req: http2.Http2ServerRequest): boolean {
    const helper = this.helper(user);
    if (!helper) return false;
    helper.open++;
    if (helper.idle) clearTimeout(helper.idle);
    helper.idle = undefined;
    relayToHelper(req, helper.session, () => {
      helper.open--;
      if (helper.open === 0) this.armIdle(user, helper);
    });
    return true;
  }

  /** warm starts `user`'s helper now, so the first call does not wait for Node to start. */
  warm(user: OsUser): void {
    const helper = this.helper(user);
    if (helper && helper.open === 0) this.armIdle(user, helper);
  }

  private helper(user: OsUser): Running | undefined {
    if (this.closed) return undefined;
    const current = this.running.get(user.uid);
    if (current && !current.session.closed && !current.session.destroyed) return current;
    const now = Date.now();
    const last = this.lastStart.get(user.uid);
    if (last !== undefined && now - last < (this.options.restartDelayMs ?? 1_000)) return undefined;
    this.lastStart.set(user.uid, now);
    try {
      return this.start(user);
    } catch (err) {
      this.options.logger.error("the filesystem helper could not be started", {
        user: user.name,
        err,
      });
      return undefined;
    }
  }

  private armIdle(user: OsUser, helper: Running): void {
    if (helper.idle) clearTimeout(helper.idle);
    helper.idle = setTimeout(
      () => {
        if (helper.open > 0 || this.running.get(user.uid) !== helper) return;
        this.running.delete(user.uid);
        this.lastStart.delete(user.uid); // an idle stop is no crash: the next call starts it at once
        helper.session.close();
        helper.child.kill("SIGTERM");
      },
      this.options.idleMs ?? 10 * 60_000,
    );
    helper.idle.unref();
  }

  private start(user: OsUser): Running {
    const [file, ...args] = this.options.command;
    if (!file) throw new Error("no filesystem helper command");
    const child = spawn(file, args, {
      uid: user.uid,
      gid: user.gid,
      cwd: "/",
      // A clean environment: nothing of the image's (NODE_OPTIONS …) reaches the helper's Node.
      env: {
        HOME: user.home,
        USER: user.name,
        LOGNAME: user.name,
        PATH: "/usr/local/bin:/usr/bin:/bin",
        COVE_FS_HELPER: JSON.stringify(this.options.settings(user)),
      },
      stdio: ["ignore", "inherit", "inherit", "pipe"],
    });
    const channel = child.stdio[3] as net.Socket | null;
    if (!channel) {
      child.kill("SIGKILL");
      throw new Error("the helper has no channel");
    }
    child.on("error", (err) => {
      this.options.logger.error("the filesystem helper failed", { user: user.name, err });
    });
    const session = http2.connect("http://filesystem-helper", {
      createConnection: () => channel,
      settings: { initialWindowSize: HELPER_WINDOW_BYTES, maxFrameSize: HELPER_FRAME_BYTES },
    });
    session.on("error", () => {}); // a dying helper fails its calls; the exit is logged below
    session.once("localSettings", () => {
      if (!session.destroyed) session.setLocalWindowSize(HELPER_WINDOW_BYTES);
    });
    const entry: Running = { child, session, open: 0 };
    this.running.set(user.uid, entry);
    child.once("exit", (code, signal) => {
      if (entry.idle) clearTimeout(entry.idle);
      const stoppedIdle = this.running.get(user.uid) !== entry;
      if (!stoppedIdle) this.running.delete(user.uid);
      session.destroy();
      if (!this.closed && !stoppedIdle) {
        this.options.logger.warn("the filesystem helper exited; it restarts on the next call", {
          user: user.name,
          code,
          signal,
        });
      }
    });
    this.options.logger.info("filesystem helper started", {
      user: user.name,
      uid: user.uid,
      pid: child.pid,
    });
    return entry;
  }

  /** close stops every helper (their open calls end). */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.running.values()];
    this.running.clear();
    await Promise.all(
      all.map(
        ({ child, session, idle }) =>
          new Promise<void>((resolve) => {
            if (idle) clearTimeout(idle);
            session.destroy();
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const timer = setTimeout(() => child.kill("SIGKILL"), 2_000);
            child.once("exit", () => {
              clearTimeout(timer);
              resolve();
            });
            child.kill("SIGTERM");
          }),
      ),
    );
  }
}
