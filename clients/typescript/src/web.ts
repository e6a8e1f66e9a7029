// @cove/sdk/web: the SDK for browsers (Connect over fetch). No Node modules are imported here or
// in anything this file reaches. Uploads are limited to 8 MiB (browsers cannot client-stream).
import type { Sandbox as SandboxMessage } from "@cove/gen-ts/cove/sandbox/v1/sandbox_pb.js";
import { CoveClient, type CoveConfig, type SandboxHost } from "./core/cove.js";
import { Sandbox } from "./core/sandbox.js";
import { createWebPlatform } from "./web/web-platform.js";

export * from "./core/public.js";

/** Cove is the browser client: `new Cove({ apiKey, apiUrl })`. */
export class Cove extends CoveClient<Sandbox> {
  constructor(config: CoveConfig = {}) {
    super(
      config,
      createWebPlatform(),
      (host: SandboxHost, info: SandboxMessage) => new Sandbox(host, info),
    );
  }
}
