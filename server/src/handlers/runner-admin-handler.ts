import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { CoveError, invalidArgument } from "@cove/common";
import type {
  CreateRunnerRequest,
  DeleteRunnerRequest,
  DrainRunnerRequest,
  GetRunnerRequest,
  ListRunnersRequest,
  RunnerAdminService,
  UndrainRunnerRequest,
} from "@cove/gen-ts/cove/runner/v1/runner_admin_service_pb.js";
import { RunnerSchema, RunnerState } from "@cove/gen-ts/cove/runner/v1/runner_pb.js";
import type { RunnerRecord, RunnerRegistry, RunnerStateName } from "../domain/runner/registry.js";
import { kPrincipal } from "../principal.js";

const stateToProto: Record<RunnerStateName, RunnerState> = {
  PENDING: RunnerState.PENDING,
  CONNECTED: RunnerState.CONNECTED,
  DISCONNECTED: RunnerState.DISCONNECTED,
};

/** toRunnerProto builds a cove.runner.v1.Runner from the domain's record. */
export function toRunnerProto(runner: RunnerRecord) {
  return create(RunnerSchema, {
    runnerId: runner.runnerId,
    name: runner.name,
    version: runner.version,
    region: runner.region,
    state: stateToProto[runner.state],
    draining: runner.draining,
    capacity: runner.capacity,
    allocated: runner.allocated,
    metrics: runner.metrics,
    runtimes: runner.runtimes,
    toolboxGatewayUrl: runner.toolboxGatewayUrl,
    createTime: timestampFromDate(runner.createTime),
    connectTime: runner.connectTime ? timestampFromDate(runner.connectTime) : undefined,
    lastHeartbeatTime: runner.lastHeartbeatTime
      ? timestampFromDate(runner.lastHeartbeatTime)
      : undefined,
  });
}

function stateFromProto(state: RunnerState, index: number): RunnerStateName {
  switch (state) {
    case RunnerState.PENDING:
      return "PENDING";
    case RunnerState.CONNECTED:
      return "CONNECTED";
    case RunnerState.DISCONNECTED:
      return "DISCONNECTED";
    default:
      throw invalidArgument(`states[${index}]`, "must be PENDING, CONNECTED or DISCONNECTED");
  }
}

function requireRunnerId(runnerId: string): string {
  if (runnerId === "") throw invalidArgument("runner_id", "is required");
  return runnerId;
}

/**
 * RunnerAdminHandler serves RunnerAdminService for platform operators. The auth interceptor
 * checks the "operator" scope; the handler refuses any other principal as well. Runners are
 * global, so nothing here is scoped by organization.
 */
export class RunnerAdminHandler implements ServiceImpl<typeof RunnerAdminService> {
  constructor(private readonly runners: RunnerRegistry) {}

  /** createRunner registers a runner and returns its token once. */
  async createRunner(req: CreateRunnerRequest, ctx: HandlerContext) {
    requireOperator(ctx);
    const { runner, token } = await this.runners.create({
      runnerId: requireRunnerId(req.runnerId),
      name: req.name,
      region: req.region,
    });
    return { runner: toRunnerProto(runner), token };
  }

  /** getRunner returns one runner. */
  async getRunner(req: GetRunnerRequest, ctx: HandlerContext) {
    requireOperator(ctx);
    return { runner: toRunnerProto(await this.runners.get(requireRunnerId(req.runnerId))) };
  }

  /** listRunners pages through runners by id. */
  async listRunners(req: ListRunnersRequest, ctx: HandlerContext) {
    requireOperator(ctx);
    const page = await this.runners.list({
      pageSize: req.pageSize,
      pageToken: req.pageToken,
      region: req.region,
      states: req.states.map(stateFromProto),
    });
    return { runners: page.runners.map(toRunnerProto), nextPageToken: page.nextPageToken };
  }

  /** drainRunner stops new placements on a runner. */
  async drainRunner(req: DrainRunnerRequest, ctx: HandlerContext) {
    requireOperator(ctx);
    return {
      runner: toRunnerProto(await this.runners.setDraining(requireRunnerId(req.runnerId), true)),
    };
  }

  /** undrainRunner allows new placements on a runner again. */
  async undrainRunner(req: UndrainRunnerRequest, ctx: HandlerContext) {
    requireOperator(ctx);
    return {
      runner: toRunnerProto(await this.runners.setDraining(requireRunnerId(req.runnerId), false)),
    };
  }

  /** deleteRunner unregisters a runner that holds nothing. */
  async deleteRunner(req: DeleteRunnerRequest, ctx: HandlerContext) {
    requireOperator(ctx);
    await this.runners.delete(requireRunnerId(req.runnerId));
    return {};
  }
}

function requireOperator(ctx: HandlerContext): void {
  const principal = ctx.values.get(kPrincipal);
  if (principal?.kind === "apiKey" && principal.scopes.includes("operator")) return;
  if (!principal)
    throw new CoveError(
      "unauthenticated",
      "CREDENTIALS_MISSING",
      "an operator API key is required",
    );
  throw new CoveError(
    "permissionDenied",
    "PERMISSION_DENIED",
    'an API key with scope "operator" is required',
  );
}
