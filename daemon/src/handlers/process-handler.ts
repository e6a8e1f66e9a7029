import { ProcessService } from "@cove/gen-ts/cove/toolbox/v1/process_service_pb.js";
import type { DaemonContext, ServiceModule } from "../context.js";

/** createProcessModule mounts ProcessService. Not implemented yet: every method answers Unimplemented. */
export function createProcessModule(_ctx: DaemonContext): ServiceModule {
  return { service: ProcessService, impl: {}, close: async () => {} };
}
