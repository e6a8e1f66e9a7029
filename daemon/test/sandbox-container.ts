// A real sandbox for daemon tests that need the base image's runtimes (language servers,
// matplotlib, the image's node): a container of `cove/sandbox:<version>` running the daemon
// from the kit the way the runner starts it (default user cove, home /home/cove, the
// container's environment for user commands), no network.
import type { DescService } from "@bufbuild/protobuf";
import { type Client, createClient } from "@connectrpc/connect";
import { ProcessService } from "@cove/gen-ts/cove/toolbox/v1/process_service_pb.js";
import { ensureBaseImage } from "../../scripts/build-base-image.mjs";
import { buildKit } from "../scripts/build-kit.mjs";
import { dockerUnreachableReason } from "./docker-images.js";
import { type KitContainer, removeStartedContainers, startKitContainer } from "./kit-container.js";

/** A daemon in a base-image container. */
export interface SandboxContainer {
  /** The container. */
  container: KitContainer;
  /** client makes a typed client for one toolbox service. */
  client<S extends DescService>(service: S): Client<S>;
  /** sh runs a shell command as the sandbox user and returns its stdout; throws on failure. */
  sh(command: string, stdin?: string): Promise<string>;
  /** remove removes the container. */
  remove(): void;
}

/** describeWithDocker is describe, or describe.skip when Docker is unreachable and not required. */
export function dockerDescribe(what: string): jest.Describe {
  const unreachable = dockerUnreachableReason();
  const required = process.env.COVE_REQUIRE_DOCKER === "1";
  if (unreachable !== undefined && !required) {
    console.warn(`Skipping ${what}: the Docker engine is not reachable (${unreachable})`);
    return describe.skip;
  }
  return describe;
}

/** startSandboxContainer builds the kit and the base image if needed and starts a sandbox. */
export async function startSandboxContainer(): Promise<SandboxContainer> {
  const unreachable = dockerUnreachableReason();
  if (unreachable !== undefined) throw new Error(`Docker is not reachable: ${unreachable}`);
  const kit = await buildKit({ log: () => {} });
  const { image } = await ensureBaseImage({ log: () => {} });
  const container = await startKitContainer({
    kitDir: kit.dir,
    entrypoint: kit.manifest.entrypoint,
    image,
    env: {
      COVE_DAEMON_SOCKET: "/run/cove/daemon.sock",
      COVE_DAEMON_USER: "cove",
      COVE_DAEMON_HOME: "/home/cove",
      COVE_DAEMON_SANDBOX_ENV: "parent",
    },
    command: ["sleep", "infinity"],
  });
  const processes = createClient(ProcessService, container.transport);
  return {
    container,
    client: (service) => createClient(service, container.transport),
    async sh(command, stdin) {
      const res = await processes.exec({
        program: { case: "command", value: command },
        stdin: stdin === undefined ? undefined : new TextEncoder().encode(stdin),
      });
      const out = new TextDecoder().decode(res.stdout);
      if (res.exitCode !== 0) {
        throw new Error(
          `\`${command}\` exited ${res.exitCode}: ${new TextDecoder().decode(res.stderr)}${out}`,
        );
      }
      return out;
    },
    remove() {
      container.remove();
      removeStartedContainers();
    },
  };
}
