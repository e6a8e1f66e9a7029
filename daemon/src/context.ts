import type { DescService } from "@bufbuild/protobuf";
import type { GrpcServerOptions, Logger } from "@cove/common";
import type { DaemonConfig } from "./config.js";
import type { RunAsRules } from "./domain/run-as.js";
import type { UserDirectory } from "./domain/users.js";

/** What every part of the daemon gets: its configuration, a logger and the user directory. */
export interface DaemonContext {
  /** The daemon's configuration. */
  config: DaemonConfig;
  /** The daemon's logger. */
  logger: Logger;
  /** Looks up OS users inside the sandbox. */
  users: UserDirectory;
}

/** One toolbox service as the app mounts it: descriptor, implementation, and shutdown. */
export interface ServiceModule {
  /** The service descriptor from gen/ts. */
  service: DescService;
  /** The handler object (methods not present answer Unimplemented). */
  impl: object;
  /** close releases what the service holds (processes, watchers, sockets). */
  close(): Promise<void>;
  /** Takes a request over before Connect (returning true), e.g. to relay it to a helper. */
  intercept?: GrpcServerOptions["intercept"];
}

/** runAsRules is what the daemon's user/cwd/environment rule (domain/run-as.ts) needs from it. */
export function runAsRules(ctx: DaemonContext): RunAsRules {
  return { users: ctx.users, defaultUser: ctx.config.defaultUser, home: ctx.config.home };
}
