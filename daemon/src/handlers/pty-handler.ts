import { PtyService } from "@cove/gen-ts/cove/toolbox/v1/pty_service_pb.js";
import type { DaemonContext, ServiceModule } from "../context.js";

/** createPtyModule mounts PtyService. Not implemented yet: every method answers Unimplemented. */
export function createPtyModule(_ctx: DaemonContext): ServiceModule {
  return { service: PtyService, impl: {}, close: async () => {} };
}
