import type { SandboxDriver, SandboxObservation } from "./sandbox-driver.js";

/**
 * SandboxDirectory is the runner's in-memory answer to "is this sandbox started here, and
 * where is its daemon socket?" — what the toolbox gateway asks on every call, without a
 * Docker round trip. It follows every observation the executor, the event watcher and the
 * inventory make.
 */
export class SandboxDirectory {
  private readonly sandboxes = new Map<string, SandboxObservation>();

  /** observe records the latest observation of a sandbox ("missing" forgets it). */
  observe(obs: SandboxObservation): void {
    if (obs.state === "missing") this.sandboxes.delete(obs.sandboxId);
    else this.sandboxes.set(obs.sandboxId, obs);
  }

  /** replace swaps in a full inventory. */
  replace(inventory: SandboxObservation[]): void {
    this.sandboxes.clear();
    for (const obs of inventory) this.observe(obs);
  }

  /**
   * resolve returns the daemon socket of a started sandbox, { notStarted: state } for one that
   * exists in another state, or undefined when this runner does not hold it.
   */
  resolve(sandboxId: string): string | undefined | { notStarted: string } {
    const obs = this.sandboxes.get(sandboxId);
    if (!obs) return undefined;
    if (obs.state !== "started") return { notStarted: obs.state.toUpperCase() };
    return obs.daemonSocketPath;
  }

  /** size is the number of sandboxes held here. */
  get size(): number {
    return this.sandboxes.size;
  }
}

/** withDirectory wraps a driver so every observation it returns also updates the directory. */
export function withDirectory(driver: SandboxDriver, directory: SandboxDirectory): SandboxDriver {
  const seen = async (p: Promise<SandboxObservation>) => {
    const obs = await p;
    directory.observe(obs);
    return obs;
  };
  return {
    create: (spec) => seen(driver.create(spec)),
    start: (id) => seen(driver.start(id)),
    stop: (id, graceMs) => seen(driver.stop(id, graceMs)),
    destroy: (id) => seen(driver.destroy(id)),
    inspect: (id) => seen(driver.inspect(id)),
    list: async () => {
      const inventory = await driver.list();
      directory.replace(inventory);
      return inventory;
    },
    socketPath: (id) => driver.socketPath(id),
    runtimes: () => driver.runtimes(),
  };
}
