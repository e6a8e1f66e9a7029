// Small helpers shared by the stack integration tests (server/test/stack-*.test.ts): clients
// with an API key, error decoding, polling, and what the Docker engine holds.
import * as net from "node:net";
import type { DescService } from "@bufbuild/protobuf";
import {
  type Client,
  Code,
  ConnectError,
  createClient,
  type Interceptor,
} from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ErrorInfoSchema } from "@cove/gen-ts/google/rpc/error_details_pb.js";
import { docker, dockerUnreachableReason } from "../../daemon/test/docker-images.js";

const unreachable = dockerUnreachableReason();

/** describe, or describe.skip when the Docker engine is unreachable and not required. */
export const describeWithDocker: jest.Describe =
  unreachable !== undefined && process.env.COVE_REQUIRE_DOCKER !== "1" ? describe.skip : describe;

/** bearer sends `authorization: Bearer <key>` on every call. */
export function bearer(key: string): Interceptor {
  return (next) => (req) => {
    req.header.set("authorization", `Bearer ${key}`);
    return next(req);
  };
}

/** apiClient is a gRPC client of one service of the API server, calling with `key`. */
export function apiClient<S extends DescService>(service: S, url: string, key?: string): Client<S> {
  return createClient(
    service,
    createGrpcTransport({ baseUrl: url, interceptors: key === undefined ? [] : [bearer(key)] }),
  );
}

/** What a failed call looked like to the client: its code name and ErrorInfo reason. */
export interface CallFailure {
  /** The gRPC code's name, e.g. "NotFound"; "OK" when the call succeeded. */
  code: string;
  /** google.rpc.ErrorInfo reason, or "". */
  reason: string;
  /** The error message, or "". */
  message: string;
}

/** failureOf turns a thrown value into a CallFailure. */
export function failureOf(err: unknown): CallFailure {
  const e = ConnectError.from(err);
  return {
    code: Code[e.code],
    reason: e.findDetails(ErrorInfoSchema)[0]?.reason ?? "",
    message: e.rawMessage,
  };
}

/** outcomeOf awaits a call and reports its outcome (code "OK" on success). */
export async function outcomeOf(call: Promise<unknown>): Promise<CallFailure> {
  try {
    await call;
    return { code: "OK", reason: "", message: "" };
  } catch (err) {
    return failureOf(err);
  }
}

/** waitUntil polls `probe` until it returns a defined value, or throws after timeoutMs. */
export async function waitUntil<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  intervalMs = 250,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > until) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${String(lastError)})` : ""}`,
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** One container as `docker ps -a` shows it. */
export interface ContainerInfo {
  /** Container id. */
  id: string;
  /** The sandbox id label (dev.cove.sandbox-id), or "". */
  sandboxId: string;
  /** Docker's state: running, exited, created… */
  state: string;
}

/** containersWithLabel lists every container carrying `key=value`, running or not. */
export function containersWithLabel(key: string, value: string): ContainerInfo[] {
  const out = docker([
    "ps",
    "-a",
    "--filter",
    `label=${key}=${value}`,
    "--format",
    '{{.ID}}\t{{.Label "dev.cove.sandbox-id"}}\t{{.State}}',
  ]);
  return out
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const [id = "", sandboxId = "", state = ""] = line.split("\t");
      return { id, sandboxId, state };
    });
}

/** removeContainersWithLabel force-removes every container carrying `key=value`. */
export function removeContainersWithLabel(key: string, value: string): void {
  for (const c of containersWithLabel(key, value)) {
    try {
      docker(["rm", "-f", "-v", c.id]);
    } catch {
      // already gone
    }
  }
}

/** freePort asks the OS for a loopback port that is free right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}
