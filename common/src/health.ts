import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  type Health,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from "@cove/gen-ts/grpc/health/v1/health_pb.js";

export { ServingStatus };

/** HealthRegistry holds the serving status of a server and of each service it exposes. */
export interface HealthRegistry {
  /** setStatus records a status; "" names the server as a whole. Watchers see the change. */
  setStatus(service: string, status: ServingStatus): void;
  /** getStatus returns the recorded status, or undefined for a service never registered. */
  getStatus(service: string): ServingStatus | undefined;
  /** statuses returns every recorded status by service name. */
  statuses(): ReadonlyMap<string, ServingStatus>;
  /** subscribe calls listener on every change until the returned function is called. */
  subscribe(listener: (service: string, status: ServingStatus) => void): () => void;
  /** shutdown marks everything NOT_SERVING, so load balancers drain before the server closes. */
  shutdown(): void;
}

/** createHealthRegistry makes a HealthRegistry whose server-wide status starts as SERVING. */
export function createHealthRegistry(): HealthRegistry {
  const status = new Map<string, ServingStatus>([["", ServingStatus.SERVING]]);
  const listeners = new Set<(service: string, status: ServingStatus) => void>();
  const registry: HealthRegistry = {
    setStatus(service, next) {
      if (status.get(service) === next) return;
      status.set(service, next);
      for (const listener of listeners) listener(service, next);
    },
    getStatus: (service) => status.get(service),
    statuses: () => status,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    shutdown() {
      for (const service of [...status.keys()])
        registry.setStatus(service, ServingStatus.NOT_SERVING);
    },
  };
  return registry;
}

/** createHealthService implements grpc.health.v1.Health (Check, Watch, List) over a registry. */
export function createHealthService(registry: HealthRegistry): ServiceImpl<typeof Health> {
  return {
    check(req) {
      const status = registry.getStatus(req.service);
      if (status === undefined) {
        throw new ConnectError(`unknown service "${req.service}"`, Code.NotFound);
      }
      return { status };
    },
    async *watch(req, ctx) {
      // Watch sends the current status at once, then every change, until the client leaves
      // or the server shuts down. Unknown services report SERVICE_UNKNOWN, as the spec asks.
      const queue: ServingStatus[] = [];
      let wake: (() => void) | undefined;
      const unsubscribe = registry.subscribe((service, status) => {
        if (service !== req.service) return;
        queue.push(status);
        wake?.();
      });
      const onAbort = () => wake?.();
      ctx.signal.addEventListener("abort", onAbort);
      try {
        let last = registry.getStatus(req.service) ?? ServingStatus.SERVICE_UNKNOWN;
        yield { status: last };
        while (!ctx.signal.aborted) {
          const next = queue.shift();
          if (next === undefined) {
            await new Promise<void>((resolve) => {
              wake = resolve;
            });
            wake = undefined;
            continue;
          }
          if (next === last) continue;
          last = next;
          yield { status: next };
        }
      } finally {
        unsubscribe();
        ctx.signal.removeEventListener("abort", onAbort);
      }
    },
    list() {
      const statuses: Record<
        string,
        ReturnType<typeof create<typeof HealthCheckResponseSchema>>
      > = {};
      for (const [service, status] of registry.statuses()) {
        statuses[service] = create(HealthCheckResponseSchema, { status });
      }
      return { statuses };
    },
  };
}
