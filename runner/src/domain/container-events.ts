import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Logger } from "@cove/common";
import type { SandboxReportSchema } from "@cove/gen-ts/cove/runner/v1/runner_pb.js";
import type Dockerode from "dockerode";
import { toReport } from "../control/command-executor.js";
import { LABELS } from "./hardening.js";
import type { SandboxDriver } from "./sandbox-driver.js";

/** A running watch on the engine's events. */
export interface EventWatch {
  /** stop ends the watch. */
  stop(): void;
}

/**
 * watchContainerEvents follows the Docker engine's events for managed containers: when one
 * dies, is OOM-killed or removed outside a command (a crash, `docker stop`, a dockerd restart),
 * the sandbox is inspected and its new state reported, so the server learns about it at once
 * rather than at the next reconnect. Starts are not followed: a running container is not yet
 * a started sandbox (its daemon may not answer yet) — the start command reports that. The
 * watch restarts itself when the engine goes away.
 */
export function watchContainerEvents(
  docker: Dockerode,
  driver: SandboxDriver,
  labels: Record<string, string>,
  report: (report: MessageInitShape<typeof SandboxReportSchema>) => void,
  logger: Logger,
): EventWatch {
  let stopped = false;
  let current: NodeJS.ReadableStream | undefined;
  const follow = async () => {
    while (!stopped) {
      try {
        const stream = (await docker.getEvents({
          filters: {
            type: ["container"],
            label: [
              `${LABELS.managed}=true`,
              ...Object.entries(labels).map(([k, v]) => `${k}=${v}`),
            ],
            event: ["die", "oom", "destroy"],
          },
        })) as NodeJS.ReadableStream;
        current = stream;
        let buffered = "";
        await new Promise<void>((resolve) => {
          stream.on("data", (chunk: Buffer) => {
            buffered += chunk.toString("utf8");
            let newline = buffered.indexOf("\n");
            while (newline >= 0) {
              const line = buffered.slice(0, newline);
              buffered = buffered.slice(newline + 1);
              newline = buffered.indexOf("\n");
              try {
                const event = JSON.parse(line) as {
                  Actor?: { Attributes?: Record<string, string> };
                };
                const sandboxId = event.Actor?.Attributes?.[LABELS.sandboxId];
                if (sandboxId) {
                  void driver.inspect(sandboxId).then(
                    (obs) => report(toReport(obs)),
                    (err: unknown) =>
                      logger.warn("inspect after a container event failed", { sandboxId, err }),
                  );
                }
              } catch {
                // not an event line
              }
            }
          });
          stream.on("end", () => resolve());
          stream.on("error", () => resolve());
        });
      } catch (err) {
        if (!stopped) logger.warn("cannot follow Docker events; retrying", { err: String(err) });
      }
      if (!stopped) await new Promise((r) => setTimeout(r, 1_000));
    }
  };
  void follow();
  return {
    stop() {
      stopped = true;
      (current as unknown as { destroy?: () => void } | undefined)?.destroy?.();
    },
  };
}
