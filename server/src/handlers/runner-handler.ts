import type { MessageInitShape } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { CoveError } from "@cove/common";
import type {
  ConnectRequest,
  ConnectResponseSchema,
  RunnerService,
} from "@cove/gen-ts/cove/runner/v1/runner_service_pb.js";
import { kPrincipal } from "../principal.js";
import type { RunnerHub, RunnerInbound } from "../runner-stream/runner-hub.js";

async function* messagesOf(requests: AsyncIterable<ConnectRequest>): AsyncGenerator<RunnerInbound> {
  for await (const request of requests) yield request.message;
}

/**
 * RunnerHandler serves RunnerService.Connect: it checks that the caller is a runner (the auth
 * interceptor verified its token) and hands the stream to the RunnerHub.
 */
export class RunnerHandler implements ServiceImpl<typeof RunnerService> {
  constructor(private readonly hub: RunnerHub) {}

  /** connect runs one runner's control stream. */
  async *connect(
    requests: AsyncIterable<ConnectRequest>,
    ctx: HandlerContext,
  ): AsyncGenerator<MessageInitShape<typeof ConnectResponseSchema>> {
    const principal = ctx.values.get(kPrincipal);
    if (principal?.kind !== "runner")
      throw new CoveError("unauthenticated", "RUNNER_TOKEN_INVALID", "a runner token is required");
    for await (const message of this.hub.serve(
      principal.runnerId,
      messagesOf(requests),
      ctx.signal,
    ))
      yield { message };
  }
}
