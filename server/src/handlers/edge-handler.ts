import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate, timestampNow } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { AsyncQueue, invalidArgument, withKeepalive } from "@cove/common";
import { AccessKind, RouteChangeKind } from "@cove/gen-ts/cove/edge/v1/edge_pb.js";
import {
  EdgeService,
  type RecordActivityRequest,
  type ResolveSandboxRequest,
  type WatchRoutesResponseSchema,
} from "@cove/gen-ts/cove/edge/v1/edge_service_pb.js";
import { SandboxState } from "@cove/gen-ts/cove/sandbox/v1/sandbox_pb.js";
import type { EdgeAccess, EdgeCredential, EdgeResolver } from "../domain/edge/resolver.js";
import {
  ACCESS_REVOKED_CHANNEL,
  ALL_SANDBOXES_CHANNEL,
  parseSandboxEvent,
} from "../domain/sandbox/events.js";
import type { EventBus } from "../shared/shared-state.js";

const accessKinds: Partial<Record<AccessKind, EdgeAccess>> = {
  [AccessKind.TOOLBOX]: "toolbox",
  [AccessKind.PREVIEW]: "preview",
  [AccessKind.SSH]: "ssh",
};

type WatchMessage = MessageInitShape<typeof WatchRoutesResponseSchema>;

/** EdgeHandler implements EdgeService for the proxy. */
export class EdgeHandler implements ServiceImpl<typeof EdgeService> {
  constructor(
    private readonly edge: EdgeResolver,
    private readonly events: EventBus,
    private readonly keepaliveMs = 15_000,
  ) {}

  async resolveSandbox(req: ResolveSandboxRequest) {
    const access = accessKinds[req.access];
    if (!access) throw invalidArgument("access", "choose TOOLBOX, PREVIEW or SSH");
    const c = req.credential;
    const credential: EdgeCredential =
      c.case === undefined ? { kind: "none" } : { kind: credentialKinds[c.case], secret: c.value };
    const route = await this.edge.resolve({
      sandboxId: req.sandboxId,
      access,
      port: req.port,
      credential,
    });
    return {
      sandboxId: route.sandboxId,
      organizationId: route.organizationId,
      state: SandboxState[route.state as keyof typeof SandboxState],
      public: route.public,
      runnerId: route.runnerId,
      toolboxGatewayUrl: route.toolboxGatewayUrl,
      allowedPort: route.allowedPort,
      osUser: route.osUser,
      cacheTtl: { seconds: BigInt(Math.floor(route.cacheTtlMs / 1000)), nanos: 0 },
      credentialId: route.credentialId,
      credentialExpireTime: route.credentialExpireTime
        ? timestampFromDate(route.credentialExpireTime)
        : undefined,
    };
  }

  /**
   * watchRoutes streams route invalidations to one proxy. Credential changes are confirmed to
   * whoever announced them (RevokeApiKey …) only once this stream has written them, so a
   * revoked key's routes are gone from the proxy's cache before the revocation is answered.
   */
  async *watchRoutes(_req: unknown, ctx: HandlerContext): AsyncGenerator<WatchMessage> {
    const queue = new AsyncQueue<{ message: WatchMessage; written?: () => void }>();
    const unwritten = new Set<() => void>();
    const invalidate = (value: WatchMessage["event"], written?: () => void) =>
      queue.push({ message: { event: value }, written });
    const stopWatchingCredentials = this.edge.watchCredentials(
      (change) =>
        new Promise<void>((resolve) => {
          unwritten.add(resolve);
          // Organization- or user-wide changes cannot be named by one id: the proxy drops everything.
          invalidate(
            change.apiKeyId
              ? {
                  case: "invalidation",
                  value: {
                    kind: RouteChangeKind.CREDENTIAL_REVOKED,
                    credentialId: change.apiKeyId,
                    eventTime: timestampNow(),
                  },
                }
              : { case: "reset", value: { serverTime: timestampNow() } },
            resolve,
          );
        }),
    );
    const unsubscribe = await Promise.all([
      this.events.subscribe(ALL_SANDBOXES_CHANNEL, (message) => {
        const event = parseSandboxEvent(message);
        if (!event) return;
        invalidate({
          case: "invalidation",
          value: {
            kind: RouteChangeKind.SANDBOX_STATE,
            sandboxId: event.sandbox.id,
            state: SandboxState[event.sandbox.state as keyof typeof SandboxState],
            eventTime: timestampNow(),
          },
        });
      }),
      this.events.subscribe(ACCESS_REVOKED_CHANNEL, (message) => {
        const event = message as { sandboxId?: string; tokenIds?: string[] };
        for (const credentialId of event.tokenIds ?? []) {
          invalidate({
            case: "invalidation",
            value: {
              kind: RouteChangeKind.CREDENTIAL_REVOKED,
              sandboxId: event.sandboxId ?? "",
              credentialId,
              eventTime: timestampNow(),
            },
          });
        }
      }),
    ]).catch((err: unknown) => {
      stopWatchingCredentials();
      throw err;
    });
    const onAbort = () => queue.close();
    ctx.signal.addEventListener("abort", onAbort, { once: true });
    try {
      yield { event: { case: "reset", value: { serverTime: timestampNow() } } };
      for await (const item of withKeepalive(queue, this.keepaliveMs, () => null)) {
        if (!item) {
          yield { event: { case: "keepalive", value: { serverTime: timestampNow() } } };
          continue;
        }
        yield item.message;
        // Resumed: the message has been handed to the proxy's stream.
        if (item.written) {
          unwritten.delete(item.written);
          item.written();
        }
      }
    } finally {
      ctx.signal.removeEventListener("abort", onAbort);
      stopWatchingCredentials();
      // A closed stream has nothing left to protect: its proxy drops its whole cache.
      for (const written of unwritten) written();
      await Promise.all(unsubscribe.map((off) => off()));
    }
  }

  async recordActivity(req: RecordActivityRequest) {
    if (req.entries.length > 1000) throw invalidArgument("entries", "at most 1000 per call");
    const entries = req.entries
      .filter((e) => e.sandboxId !== "" && e.lastActivityTime)
      .map((e) => ({
        sandboxId: e.sandboxId,
        time: timestampDate(e.lastActivityTime as NonNullable<typeof e.lastActivityTime>),
      }));
    return { updatedCount: await this.edge.recordActivity(entries) };
  }
}

const credentialKinds = {
  apiKey: "apiKey",
  sandboxToken: "sandboxToken",
  previewToken: "previewToken",
  signedUrlToken: "signedUrlToken",
  sshToken: "sshToken",
} as const;

export { EdgeService };
