import type { ConnectRouter } from "@connectrpc/connect";
import { createErrorInterceptor, type GrpcServerOptions, type Logger } from "@cove/common";
import type { DaemonConfig } from "./config.js";
import type { DaemonContext, ServiceModule } from "./context.js";
import { UserDirectory } from "./domain/users.js";
import { createFilesystemModule } from "./handlers/filesystem-handler.js";
import { createGitModule } from "./handlers/git-handler.js";
import { createInterpreterModule } from "./handlers/interpreter-handler.js";
import { createLspModule } from "./handlers/lsp-handler.js";
import { createPortModule } from "./handlers/port-handler.js";
import { createProcessModule } from "./handlers/process-handler.js";
import { createPtyModule } from "./handlers/pty-handler.js";

/** The daemon as a set of services ready to serve, and a way to release everything they hold. */
export interface DaemonApp {
  /** Server options for startGrpcServer (services, routes, interceptors, limits). */
  server: GrpcServerOptions;
  /** close stops every process, terminal, watcher and tunnel the daemon started. */
  close(): Promise<void>;
}

/** createDaemonApp wires the toolbox services over the domain; no globals, no listening. */
export function createDaemonApp(config: DaemonConfig, logger: Logger): DaemonApp {
  const ctx: DaemonContext = { config, logger, users: new UserDirectory() };
  const filesystem = createFilesystemModule(ctx);
  const modules: ServiceModule[] = [
    createProcessModule(ctx),
    filesystem,
    createPtyModule(ctx),
    createPortModule(ctx),
    createGitModule(ctx),
    createInterpreterModule(ctx),
    createLspModule(ctx, filesystem.readDocument),
  ];
  return {
    server: {
      services: modules.map((m) => m.service),
      routes(router: ConnectRouter) {
        for (const m of modules) router.service(m.service, m.impl as never);
      },
      interceptors: [createErrorInterceptor(logger)],
      intercept: (req, res) => modules.some((m) => m.intercept?.(req, res)),
      readMaxBytes: config.limits.maxMessageBytes,
      writeMaxBytes: config.limits.maxMessageBytes,
    },
    async close() {
      await Promise.allSettled(modules.map((m) => m.close()));
    },
  };
}
