// Readiness of a sandbox's daemon: a grpc.health.v1.Health/Check call over its unix socket,
// spoken as raw gRPC over node:http2 (the request is an empty message and the answer one
// varint), so the domain needs no RPC framework. waitForDaemon polls it until SERVING, a
// deadline, or the container's own failure, whichever comes first.
import * as fs from "node:fs";
import * as http2 from "node:http2";
import * as net from "node:net";
import { failedPrecondition } from "@cove/common";

/** grpc.health.v1.HealthCheckResponse.ServingStatus by name. */
export type HealthStatus = "UNKNOWN" | "SERVING" | "NOT_SERVING" | "SERVICE_UNKNOWN";

const statusNames: HealthStatus[] = ["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"];

/** The gRPC path of Health.Check. */
const checkPath = "/grpc.health.v1.Health/Check";

/** Largest health response we read, in bytes (the real one is 7). */
const maxResponseBytes = 1024;

/**
 * isUnixSocket says whether path is a unix socket itself — not a symlink to one. The socket
 * directory is writable by root inside the sandbox: a daemon.sock swapped for a symlink to a
 * host socket must never be dialled from the host.
 */
export function isUnixSocket(socketPath: string): boolean {
  try {
    return fs.lstatSync(socketPath).isSocket();
  } catch {
    return false;
  }
}

/** readVarintField1 decodes field 1 (a varint) of a protobuf message; 0 when absent. */
function readVarintField1(msg: Uint8Array): number {
  let i = 0;
  const varint = (): number => {
    let value = 0;
    let shift = 0;
    for (;;) {
      const byte = msg[i++];
      if (byte === undefined) throw new Error("truncated varint in the health response");
      value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return value;
      shift += 7;
      if (shift > 63) throw new Error("varint too long in the health response");
    }
  };
  let status = 0;
  while (i < msg.length) {
    const tag = varint();
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    if (wire === 0) {
      const value = varint();
      if (field === 1) status = value;
    } else if (wire === 2) {
      i += varint();
    } else if (wire === 1) {
      i += 8;
    } else if (wire === 5) {
      i += 4;
    } else {
      throw new Error(`unexpected wire type ${wire} in the health response`);
    }
  }
  return status;
}

/**
 * checkDaemonHealth makes one Health.Check call (service "") on the daemon's unix socket and
 * resolves to its status. Rejects when the path is not a socket, the connection fails, the
 * call ends with a non-OK grpc-status, or timeoutMs passes.
 */
export function checkDaemonHealth(socketPath: string, timeoutMs: number): Promise<HealthStatus> {
  if (!isUnixSocket(socketPath)) {
    return Promise.reject(new Error(`${socketPath} is not a unix socket`));
  }
  return new Promise<HealthStatus>((resolve, reject) => {
    let settled = false;
    const session = http2.connect("http://daemon.local", {
      createConnection: () => net.connect(socketPath),
    });
    const finish = (err: Error | undefined, status?: HealthStatus) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      session.destroy();
      if (err) reject(err);
      else resolve(status as HealthStatus);
    };
    const timer = setTimeout(
      () => finish(new Error(`no health answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    session.on("error", (err) => finish(err));
    const req = session.request({
      ":method": "POST",
      ":path": checkPath,
      "content-type": "application/grpc",
      te: "trailers",
    });
    const chunks: Buffer[] = [];
    let size = 0;
    let grpcStatus: string | undefined;
    let grpcMessage = "";
    const takeStatus = (headers: http2.IncomingHttpHeaders) => {
      const status = headers["grpc-status"];
      if (typeof status === "string") grpcStatus = status;
      const message = headers["grpc-message"];
      if (typeof message === "string") grpcMessage = decodeURIComponent(message);
    };
    req.on("response", (headers) => {
      const httpStatus = headers[":status"];
      if (httpStatus !== 200) finish(new Error(`health check got HTTP ${httpStatus}`));
      takeStatus(headers);
    });
    req.on("trailers", takeStatus);
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxResponseBytes) finish(new Error("health response too large"));
      else chunks.push(chunk);
    });
    req.on("error", (err) => finish(err));
    req.on("end", () => {
      if (grpcStatus !== "0") {
        finish(new Error(`health check failed: grpc-status ${grpcStatus} ${grpcMessage}`.trim()));
        return;
      }
      const body = Buffer.concat(chunks);
      if (body.length < 5 || body[0] !== 0) {
        finish(new Error("health check answered without an uncompressed message"));
        return;
      }
      const length = body.readUInt32BE(1);
      if (body.length < 5 + length) {
        finish(new Error("health response truncated"));
        return;
      }
      try {
        const status = readVarintField1(body.subarray(5, 5 + length));
        finish(undefined, statusNames[status] ?? "UNKNOWN");
      } catch (err) {
        finish(err as Error);
      }
    });
    // An empty HealthCheckRequest: uncompressed flag, zero length.
    req.end(Buffer.alloc(5));
  });
}

/** What waitForDaemon needs. */
export interface WaitForDaemonOptions {
  /** The sandbox, for error metadata. */
  sandboxId: string;
  /** The daemon's socket on the host. */
  socketPath: string;
  /** How long to wait in total, in ms. */
  timeoutMs: number;
  /**
   * checkContainer is called every containerPollMs while waiting; it throws (a CoveError
   * such as OUT_OF_MEMORY or SANDBOX_START_FAILED) when the container has stopped running, so
   * the wait fails at once with the reason instead of at the deadline.
   */
  checkContainer: () => Promise<void>;
  /** Pause between health attempts, in ms. Default 10. */
  pollMs?: number;
  /** Pause between container checks, in ms. Default 250. */
  containerPollMs?: number;
}

/** How the wait went. */
export interface DaemonReady {
  /** Milliseconds from the call to the first SERVING answer. */
  elapsedMs: number;
  /** Health calls made (including the successful one). */
  attempts: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * waitForDaemon resolves once the daemon answers SERVING on its socket. It rejects with
 * checkContainer's error as soon as the container is found not running, and with
 * SANDBOX_START_FAILED (FAILED_PRECONDITION) naming the last failure when timeoutMs passes.
 */
export async function waitForDaemon(options: WaitForDaemonOptions): Promise<DaemonReady> {
  const begin = performance.now();
  const deadline = begin + options.timeoutMs;
  const pollMs = options.pollMs ?? 10;
  const containerPollMs = options.containerPollMs ?? 250;
  let nextContainerCheck = begin + containerPollMs;
  let attempts = 0;
  let lastError = "the daemon has not created its socket yet";
  for (;;) {
    const now = performance.now();
    if (isUnixSocket(options.socketPath)) {
      attempts++;
      try {
        const remaining = Math.max(1, deadline - now);
        const status = await checkDaemonHealth(options.socketPath, Math.min(1_000, remaining));
        if (status === "SERVING") return { elapsedMs: performance.now() - begin, attempts };
        lastError = `the daemon answered ${status}`;
      } catch (err) {
        lastError = err instanceof Error ? err.message : String(err);
      }
    }
    if (performance.now() >= nextContainerCheck || performance.now() >= deadline) {
      await options.checkContainer();
      nextContainerCheck = performance.now() + containerPollMs;
    }
    if (performance.now() >= deadline) break;
    await sleep(pollMs);
  }
  throw failedPrecondition(
    "SANDBOX_START_FAILED",
    `the sandbox's daemon did not answer health checks within ${options.timeoutMs} ms: ${lastError}`,
    { sandboxId: options.sandboxId },
  );
}
