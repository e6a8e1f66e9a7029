import type {
  SandboxDriver,
  SandboxObservation,
  SandboxSpec,
} from "../src/domain/sandbox-driver.js";

/**
 * MemoryDriver is a SandboxDriver double for protocol tests of the command stream: it keeps
 * sandboxes in a map and can be told to be slow or to fail. Docker behaviour is tested
 * against the real engine in docker-driver.test.ts and runner.test.ts.
 */
export class MemoryDriver implements SandboxDriver {
  readonly sandboxes = new Map<string, { spec: SandboxSpec; state: SandboxObservation["state"] }>();
  /** Calls made, e.g. "create:sbx1", in order. */
  readonly calls: string[] = [];
  /** Delay added to every start, ms. */
  startDelayMs = 0;
  /** When set, start fails with this error. */
  startError: Error | undefined;

  private observe(id: string): SandboxObservation {
    const sandbox = this.sandboxes.get(id);
    return {
      sandboxId: id,
      state: sandbox?.state ?? "missing",
      errorReason: "",
      errorMessage: "",
      imageDigest: sandbox ? `sha256:${sandbox.spec.image}` : "",
      daemonSocketPath: this.socketPath(id),
    };
  }

  async create(spec: SandboxSpec) {
    this.calls.push(`create:${spec.sandboxId}`);
    if (!this.sandboxes.has(spec.sandboxId))
      this.sandboxes.set(spec.sandboxId, { spec, state: "created" });
    return this.observe(spec.sandboxId);
  }
  async start(id: string) {
    this.calls.push(`start:${id}`);
    await new Promise((r) => setTimeout(r, this.startDelayMs));
    if (this.startError) throw this.startError;
    const sandbox = this.sandboxes.get(id);
    if (!sandbox) throw new Error(`no sandbox ${id}`);
    sandbox.state = "started";
    return this.observe(id);
  }
  async stop(id: string) {
    this.calls.push(`stop:${id}`);
    const sandbox = this.sandboxes.get(id);
    if (sandbox) sandbox.state = "stopped";
    return this.observe(id);
  }
  async destroy(id: string) {
    this.calls.push(`destroy:${id}`);
    this.sandboxes.delete(id);
    return this.observe(id);
  }
  async inspect(id: string) {
    return this.observe(id);
  }
  async list() {
    return [...this.sandboxes.keys()].map((id) => this.observe(id));
  }
  socketPath(id: string) {
    return `/tmp/memory-driver/${id}/daemon.sock`;
  }
  async runtimes() {
    return ["runc"];
  }
}
