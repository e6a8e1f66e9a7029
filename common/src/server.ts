import type { DescService } from "@bufbuild/protobuf";
import type { ConnectRouter, Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { Health } from "@cove/gen-ts/grpc/health/v1/health_pb.js";
import { applyCors, type CorsPolicy } from "./cors.js";
import {
  createHealthRegistry,
  createHealthService,
  type HealthRegistry,
  ServingStatus,
} from "./health.js";
import {
  type DualProtocolServer,
  type ListenAddress,
  type ListenOptions,
  listenDualProtocol,
} from "./listen.js";
import { createMessageValidationInterceptor, type MessageRules } from "./message-validation.js";
import {
  createReflectionServiceV1,
  createReflectionServiceV1alpha,
  ReflectionIndex,
  reflectionServices,
} from "./reflection.js";
import { answerUnknownMethod } from "./unknown-method.js";

/** Default cap on one message in either direction: 16 MiB. Larger payloads must stream. */
export const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/** What a Cove server is made of: its own services, and how they are routed. */
export interface GrpcServerOptions {
  /** The services this server implements; health and reflection are added for them. */
  services: readonly DescService[];
  /** Registers the implementations, e.g. router.service(SandboxService, handler). */
  routes: (router: ConnectRouter) => void;
  /** Interceptors in order: request id and logging, then auth, then error mapping. */
  interceptors?: Interceptor[];
  /** Cap on one received message, in bytes. Default DEFAULT_MAX_MESSAGE_BYTES. */
  readMaxBytes?: number;
  /** Cap on one sent message, in bytes. Default DEFAULT_MAX_MESSAGE_BYTES. */
  writeMaxBytes?: number;
  /**
   * Switches for the rules every request message must meet (known enum values, well-formed
   * strings without NUL, valid durations and timestamps; see message-validation.ts).
   */
  messageRules?: MessageRules;
  /** Browser origins allowed to call (CORS); none when unset. */
  cors?: CorsPolicy;
  /** Called with every request before it is handled (e.g. to stamp the peer address into a header). */
  beforeRequest?: (req: {
    headers: Record<string, string | string[] | undefined>;
    socket?: { remoteAddress?: string } | null;
  }) => void;
  /**
   * Answers a request itself instead of Connect when it returns true (e.g. to relay it to
   * another process); called after beforeRequest.
   */
  intercept?: (
    req: Parameters<ReturnType<typeof createGrpcHandler>>[0],
    res: Parameters<ReturnType<typeof createGrpcHandler>>[1],
  ) => boolean;
}

/** A Cove server that is listening, with its health registry to report readiness through. */
export interface GrpcServer extends DualProtocolServer {
  /** The health registry behind grpc.health.v1.Health. */
  readonly health: HealthRegistry;
}

/**
 * createGrpcHandler builds the request handler every Cove component serves: its own services
 * plus grpc.health.v1 and grpc.reflection (v1 and v1alpha), answering Connect, gRPC and
 * gRPC-Web, with Unimplemented for any method it does not know. JSON is parsed strictly: an
 * unknown field name or enum name is INVALID_ARGUMENT, never silently dropped (a misspelt
 * filter must not turn into "no filter"). Every request message then passes the descriptor
 * rules of createMessageValidationInterceptor, innermost (after authentication).
 */
export function createGrpcHandler(options: GrpcServerOptions, health: HealthRegistry) {
  const index = new ReflectionIndex([...options.services, Health, ...reflectionServices]);
  for (const service of options.services) health.setStatus(service.typeName, ServingStatus.SERVING);
  return connectNodeAdapter({
    routes(router) {
      options.routes(router);
      router.service(Health, createHealthService(health));
      router.service(reflectionServices[0], createReflectionServiceV1(index));
      router.service(reflectionServices[1], createReflectionServiceV1alpha(index));
    },
    interceptors: [
      ...(options.interceptors ?? []),
      createMessageValidationInterceptor(options.messageRules),
    ],
    jsonOptions: { ignoreUnknownFields: false },
    readMaxBytes: options.readMaxBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    writeMaxBytes: options.writeMaxBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    fallback: answerUnknownMethod,
  });
}

/** startGrpcServer builds the handler (see createGrpcHandler) and listens on a port or socket. */
export async function startGrpcServer(
  options: GrpcServerOptions,
  where: ListenAddress,
  listenOptions: ListenOptions = {},
): Promise<GrpcServer> {
  const health = createHealthRegistry();
  const connect = createGrpcHandler(options, health);
  const before = options.beforeRequest;
  const policy = options.cors;
  const handler: typeof connect = (req, res) => {
    if (
      policy &&
      applyCors(
        policy,
        req as Parameters<typeof applyCors>[1],
        res as unknown as Parameters<typeof applyCors>[2],
      )
    )
      return;
    before?.(req as Parameters<NonNullable<typeof before>>[0]);
    if (options.intercept?.(req, res)) return;
    connect(req, res);
  };
  const server = await listenDualProtocol(handler, where, listenOptions);
  return {
    address: server.address,
    url: server.url,
    health,
    async close(graceMs?: number) {
      health.shutdown();
      await server.close(graceMs);
    },
  };
}
