/**
 * The filesystem helpers: one child process per sandbox user, started with that user's uid and
 * gid, that serves cove.toolbox.v1.FilesystemService. The daemon runs as root; serving
 * filesystem calls from a helper makes the kernel apply the user's own permissions to every
 * path, symlink and ownership change, so no call can do what the user could not.
 *
 * A helper is reached two ways. The daemon relays calls that reach its own socket over HTTP/2
 * on a socket pair the helper inherits as fd 3. And the default user's helper also serves a
 * socket of its own next to the daemon's (`filesystem.sock`), which the runner's gateway
 * prefers for filesystem calls so that bulk data crosses no extra hop: the daemon creates and
 * binds it as root (mode 0600, so nothing in the sandbox but root can connect) and hands the
 * listening descriptor to the helper as fd 4. Neither channel can be stood in for from the
 * sandbox. The daemon also makes calls of its own to the helper on the same session (reading a
 * document LspService opens from disk, see helper-client.ts). A helper with nothing to do exits
 * by itself; the next call starts it again.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as http2 from "node:http2";
import * as net from "node:net";
import * as path from "node:path";
import type { Logger } from "@cove/common";
import type { DaemonLimits } from "../config.js";
import type { OsUser } from "../domain/users.js";
import { relayToHelper } from "./relay.js";

/** What a helper is told at start, in COVE_FS_HELPER (JSON). */
export interface HelperSettings {
  /** Relative paths resolve here (the user's home). */
  home: string;
  /** The daemon's limits (message caps, keepalives, idle times). */
  limits: DaemonLimits;
  /** The descriptor of a listening socket to serve too, if the daemon handed one down. */
  listenFd?: number;
}

/** The name of the default user's own filesystem socket, next to the daemon's. */
export const FILESYSTEM_SOCKET_NAME = "filesystem.sock";

/** HTTP/2 receive window of the helper hop, per stream and per connection: uploads want it wide. */
export const HELPER_WINDOW_BYTES = 16 * 1024 * 1024;

/** Largest HTTP/2 frame on the helper hop: fewer, larger frames cost less per byte. */
export const HELPER_FRAME_BYTES = 1024 * 1024;

/** The exit code of a helper that stopped because it had nothing to do. */
export const HELPER_IDLE_EXIT_CODE = 0;

/** Options of FilesystemHelpers. */
export interface FilesystemHelpersOptions {
  /** argv that starts a helper (the Node binary, its flags, the helper's entry script). */
  command: readonly string[];
  /** What each helper gets, by user. */
  settings: (user: OsUser) => HelperSettings;
  /** Where a user's helper serves its own socket too (the default user's), if anywhere. */
  socketPath?: (user: OsUser) => string | undefined;
  /** Where start and exit are logged. */
  logger: Logger;
  /** Least time between two starts of one user's helper (a crash loop costs no more). Default 1 s. */
  restartDelayMs?: number;
}

interface Running {
  child: ChildProcess;
  session: http2.ClientHttp2Session;
}

/** FilesystemHelpers starts helpers on demand, restarts them when they are gone, and stops them. */
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
    relayToHelper(req, helper.session);
    return true;
  }

  /**
   * session is the HTTP/2 session to `user`'s helper, starting the helper when none is running,
   * for calls the daemon makes itself; undefined when it cannot run now (as for relay).
   */
  session(user: OsUser): http2.ClientHttp2Session | undefined {
    return this.helper(user)?.session;
  }

  /** warm starts `user`'s helper now, so the first call does not wait for Node to start. */
  warm(user: OsUser): void {
    this.helper(user);
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

  private start(user: OsUser): Running {
    const [file, ...args] = this.options.command;
    if (!file) throw new Error("no filesystem helper command");
    const socketPath = this.options.socketPath?.(user);
    const listener = socketPath ? bindSocket(socketPath) : undefined;
    const listenerFd = listener ? descriptorOf(listener) : undefined;
    const settings: HelperSettings = {
      ...this.options.settings(user),
      ...(listener ? { listenFd: 4 } : {}),
    };
    let child: ChildProcess;
    try {
      child = spawn(file, args, {
        uid: user.uid,
        gid: user.gid,
        cwd: "/",
        // A clean environment: nothing of the image's (NODE_OPTIONS …) reaches the helper's Node.
        env: {
          HOME: user.home,
          USER: user.name,
          LOGNAME: user.name,
          PATH: "/usr/local/bin:/usr/bin:/bin",
          COVE_FS_HELPER: JSON.stringify(settings),
        },
        // fd 3: the relay's socket pair; fd 4: the listening socket, duplicated into the helper.
        stdio: [
          "ignore",
          "inherit",
          "inherit",
          "pipe",
          ...(listenerFd !== undefined ? [listenerFd] : []),
        ],
      });
    } finally {
      // The helper holds its own copy now; this one must never accept a connection itself.
      listener?.close();
    }
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
    const entry: Running = { child, session };
    this.running.set(user.uid, entry);
    child.once("exit", (code, signal) => {
      if (this.running.get(user.uid) === entry) this.running.delete(user.uid);
      session.destroy();
      if (this.closed) return;
      if (code === HELPER_IDLE_EXIT_CODE) {
        this.lastStart.delete(user.uid); // an idle stop is no crash: the next call starts it at once
        this.options.logger.info("the filesystem helper stopped (idle)", { user: user.name });
        return;
      }
      this.options.logger.warn("the filesystem helper exited; it restarts on the next call", {
        user: user.name,
        code,
        signal,
      });
    });
    this.options.logger.info("filesystem helper started", {
      user: user.name,
      uid: user.uid,
      pid: child.pid,
      socket: socketPath,
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
        ({ child, session }) =>
          new Promise<void>((resolve) => {
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

/** descriptorOf is the file descriptor of a listening server (Node's handle keeps it as `fd`). */
function descriptorOf(server: net.Server): number {
  const fd = (server as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  if (typeof fd !== "number" || fd < 0) {
    server.close();
    throw new Error("the listening socket has no file descriptor to hand down");
  }
  return fd;
}

/**
 * bindSocket creates a listening unix socket at `socketPath` as this (root) process, mode 0600:
 * bound under a temporary name and renamed into place, so the path always names a socket and
 * closing this process's handle (which unlinks the name it was bound to) leaves it alone.
 */
function bindSocket(socketPath: string): net.Server {
  const temp = path.join(
    path.dirname(socketPath),
    `.${path.basename(socketPath)}.${randomBytes(6).toString("hex")}`,
  );
  const server = net.createServer();
  server.on("error", () => {});
  server.listen(temp); // binds and listens at once for unix sockets
  try {
    fs.chmodSync(temp, 0o600);
    fs.renameSync(temp, socketPath);
  } catch (err) {
    server.close();
    throw err;
  }
  return server;
}
