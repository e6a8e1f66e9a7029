// Steps other parts of the runner take at fixed points of a sandbox container's life, so the
// Docker driver stays about containers: the network policy (runner/src/network) and the disk
// limit (runner/src/disk) hook in here.
import type Dockerode from "dockerode";
import type { SandboxCreateOptions } from "./hardening.js";
import type { SandboxSpec } from "./sandbox-driver.js";

/** Hooks the DockerDriver runs around a container; every hook must be idempotent. */
export interface ContainerHooks {
  /** createOptions adjusts the create options of a new container, before it is created. */
  createOptions?(spec: SandboxSpec, options: SandboxCreateOptions): void;
  /**
   * created runs once the container exists and before its first start: after a create, and
   * again when a redelivered create finds the container. A failure fails the create (a
   * container it made is removed).
   */
  created?(spec: SandboxSpec, container: Dockerode.ContainerInspectInfo): Promise<void>;
  /** starting runs before every start of a stopped container; a failure fails the start. */
  starting?(sandboxId: string, container: Dockerode.ContainerInspectInfo): Promise<void>;
  /** removed runs after the container is gone, before the sandbox's directory is deleted. */
  removed?(sandboxId: string): Promise<void>;
}
