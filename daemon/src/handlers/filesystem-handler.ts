import { FilesystemService } from "@cove/gen-ts/cove/toolbox/v1/filesystem_service_pb.js";
import type { DaemonContext, ServiceModule } from "../context.js";

/** createFilesystemModule mounts FilesystemService. Not implemented yet: every method answers Unimplemented. */
export function createFilesystemModule(_ctx: DaemonContext): ServiceModule {
  return { service: FilesystemService, impl: {}, close: async () => {} };
}
