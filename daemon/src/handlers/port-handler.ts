import { PortService } from "@cove/gen-ts/cove/toolbox/v1/port_service_pb.js";
import type { DaemonContext, ServiceModule } from "../context.js";

/** createPortModule mounts PortService. Not implemented yet: every method answers Unimplemented. */
export function createPortModule(_ctx: DaemonContext): ServiceModule {
  return { service: PortService, impl: {}, close: async () => {} };
}
