// The filesystem helper's entry point: the daemon starts one per sandbox user, with that user's
// uid and gid (see helper-pool.ts). It serves FilesystemService with the same handler and
// domain as the daemon, so the kernel checks every path against the user's own permissions:
// over HTTP/2 on the socket pair at fd 3 (calls the daemon relays), and on the listening socket
// at fd 4 when the daemon handed one down (calls from the runner's gateway). It exits when the
// daemon closes the pair, and by itself once no call has been open for the idle time.
import * as http2 from "node:http2";
import * as net from "node:net";
import {
  createErrorInterceptor,
  createGrpcHandler,
  createHealthRegistry,
  createLogger,
  listenDualProtocol,
} from "@cove/common";
import type { DaemonConfig } from "../config.js";
import { UserDirectory } from "../domain/users.js";
import { createFilesystemModule } from "../handlers/filesystem-handler.js";
import {
  HELPER_FRAME_BYTES,
  HELPER_IDLE_EXIT_CODE,
  HELPER_WINDOW_BYTES,
  type HelperSettings,
} from "./helper-pool.js";

const settings = JSON.parse(process.env.COVE_FS_HELPER ?? "null") as HelperSettings | null;
if (!settings) {
  console.error(
    "the filesystem helper is started by the Cove daemon only (COVE_FS_HELPER is unset)",
  );
  process.exit(2);
}
const logger = createLogger({
  fields: { component: "filesystem-helper", uid: process.getuid?.() },
});
const config: DaemonConfig = {
  socketPath: "",
  home: settings.home,
  // The helper already is the sandbox user: what it creates is the user's, by the kernel.
  defaultUser: undefined,
  sandboxEnvFile: undefined,
  initPath: undefined,
  entrypoint: [],
  limits: settings.limits,
};
const filesystem = createFilesystemModule({ config, logger, users: new UserDirectory() });
const connect = createGrpcHandler(
  {
    services: [filesystem.service],
    routes: (router) => router.service(filesystem.service, filesystem.impl as never),
    interceptors: [createErrorInterceptor(logger)],
    readMaxBytes: settings.limits.maxMessageBytes,
    writeMaxBytes: settings.limits.maxMessageBytes,
  },
  createHealthRegistry(),
);

let stopping = false;
const stop = (code: number) => {
  if (stopping) return;
  stopping = true;
  void filesystem.close().finally(() => process.exit(code));
};

// Idle: no call open on either channel for filesystemHelperIdleMs.
let open = 0;
let idle: NodeJS.Timeout | undefined;
const armIdle = () => {
  idle = setTimeout(() => stop(HELPER_IDLE_EXIT_CODE), settings.limits.filesystemHelperIdleMs);
  idle.unref();
};
const handler: typeof connect = (req, res) => {
  open++;
  clearTimeout(idle);
  res.once("close", () => {
    open--;
    if (open === 0) armIdle();
  });
  connect(req, res);
};
armIdle();

const pair = http2.createServer(
  {
    settings: {
      maxConcurrentStreams: 1024,
      initialWindowSize: HELPER_WINDOW_BYTES,
      maxFrameSize: HELPER_FRAME_BYTES,
    },
  },
  handler,
);
pair.on("session", (session) => {
  session.once("localSettings", () => {
    if (!session.destroyed) session.setLocalWindowSize(HELPER_WINDOW_BYTES);
  });
});
const channel = new net.Socket({ fd: 3, readable: true, writable: true });
channel.on("close", () => stop(0));
channel.on("error", () => stop(0));
process.on("SIGTERM", () => stop(0));
pair.emit("connection", channel);

if (settings.listenFd !== undefined) {
  await listenDualProtocol(
    handler,
    { fd: settings.listenFd },
    {
      protocols: "h2c",
      http2Settings: { initialWindowSize: 4 * 1024 * 1024 },
      connectionWindowBytes: 4 * 1024 * 1024,
    },
  );
}
