// The filesystem helper's entry point: the daemon starts one per sandbox user, with that user's
// uid and gid (see helper-pool.ts), and relays FilesystemService calls to it over HTTP/2 on
// the socket pair at fd 3. It serves FilesystemService with the same handler and domain as the
// daemon, so the kernel checks every path against the user's own permissions. It exits when
// the daemon closes the channel.
import * as http2 from "node:http2";
import * as net from "node:net";
import {
  createErrorInterceptor,
  createGrpcHandler,
  createHealthRegistry,
  createLogger,
} from "@cove/common";
import type { DaemonConfig } from "../config.js";
import { UserDirectory } from "../domain/users.js";
import { createFilesystemModule } from "../handlers/filesystem-handler.js";
import { HELPER_FRAME_BYTES, HELPER_WINDOW_BYTES, type HelperSettings } from "./helper-pool.js";

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
const handler = createGrpcHandler(
  {
    services: [filesystem.service],
    routes: (router) => router.service(filesystem.service, filesystem.impl as never),
    interceptors: [createErrorInterceptor(logger)],
    readMaxBytes: settings.limits.maxMessageBytes,
    writeMaxBytes: settings.limits.maxMessageBytes,
  },
  createHealthRegistry(),
);
const server = http2.createServer(
  {
    settings: {
      maxConcurrentStreams: 1024,
      initialWindowSize: HELPER_WINDOW_BYTES,
      maxFrameSize: HELPER_FRAME_BYTES,
    },
  },
  handler,
);
server.on("session", (session) => {
  session.once("localSettings", () => {
    if (!session.destroyed) session.setLocalWindowSize(HELPER_WINDOW_BYTES);
  });
});
const channel = new net.Socket({ fd: 3, readable: true, writable: true });
const stop = () => {
  void filesystem.close().finally(() => process.exit(0));
};
channel.on("close", stop);
channel.on("error", stop);
process.on("SIGTERM", stop);
server.emit("connection", channel);
