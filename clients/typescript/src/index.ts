// @cove/sdk: the Cove SDK for Node (gRPC over HTTP/2). `new Cove()` reads COVE_API_KEY,
// COVE_API_URL and COVE_PROXY_URL from the environment. Browsers use "@cove/sdk/web".
import type { Sandbox as SandboxMessage } from "@cove/gen-ts/cove/sandbox/v1/sandbox_pb.js";
import { CoveClient, type CoveConfig, type SandboxHost } from "./core/cove.js";
import { Sandbox as CoreSandbox } from "./core/sandbox.js";
import type { Toolbox } from "./core/toolbox.js";
import { NodeFileSystem } from "./node/node-filesystem.js";
import { createNodePlatform } from "./node/node-platform.js";

export * from "./core/public.js";
export {
  NodeFileSystem,
  type NodeFileUpload,
  type NodeUploadSource,
} from "./node/node-filesystem.js";

/** A sandbox in Node: fs takes local paths and streams and returns Buffers. */
export class NodeSandbox extends CoreSandbox {
  /** fs reads, writes, searches and watches files (Node flavour). */
  override get fs(): NodeFileSystem {
    return super.fs as NodeFileSystem;
  }

  protected override createFileSystem(toolbox: Toolbox): NodeFileSystem {
    return new NodeFileSystem(toolbox);
  }
}

/** Cove is the Node client: `new Cove({ apiKey, apiUrl, proxyUrl? })` or from the environment. */
export class Cove extends CoveClient<NodeSandbox> {
  constructor(config: CoveConfig = {}) {
    super(
      config,
      createNodePlatform(),
      (host: SandboxHost, info: SandboxMessage) => new NodeSandbox(host, info),
    );
  }
}
