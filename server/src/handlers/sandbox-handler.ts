/**
 * SandboxHandler serves cove.sandbox.v1.SandboxService: it decodes requests into domain terms,
 * calls SandboxLifecycle and SandboxAccess in the caller's organization, and builds responses.
 * Scopes come from METHOD_RULES (domain/iam/scopes.ts), checked by the auth interceptor and
 * again here.
 */
import { create } from "@bufbuild/protobuf";
import { type Duration, durationFromMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { CoveError, errorReasonValue, invalidArgument, permissionDenied } from "@cove/common";
import {
  type NetworkPolicy,
  NetworkPolicyMode,
  type Sandbox as SandboxMessage,
  SandboxSchema,
  SandboxState,
} from "@cove/gen-ts/cove/sandbox/v1/sandbox_pb.js";
import {
  type ArchiveSandboxRequest,
  type CreatePreviewUrlRequest,
  type CreateSandboxRequest,
  type CreateSandboxTokenRequest,
  type CreateSshAccessRequest,
  type DeleteSandboxRequest,
  type GetSandboxRequest,
  type ListSandboxesRequest,
  type RecoverSandboxRequest,
  type RevokeSshAccessRequest,
  type SandboxService,
  type StartSandboxRequest,
  type StopSandboxRequest,
  type UpdateSandboxRequest,
  type WatchSandboxRequest,
  type WatchSandboxResponse,
  WatchSandboxResponseSchema,
} from "@cove/gen-ts/cove/sandbox/v1/sandbox_service_pb.js";
import { hasScope, methodRule } from "../domain/iam/scopes.js";
import type { SandboxAccess } from "../domain/sandbox/access.js";
import type { SandboxLifecycle } from "../domain/sandbox/lifecycle.js";
import type { SandboxManager, WatchEvent } from "../domain/sandbox/manager.js";
import type { SandboxStateName } from "../domain/sandbox/ports.js";
import type { NetworkModeName, Sandbox } from "../domain/sandbox/rows.js";
import type { CreateSandboxInput, SandboxSource } from "../domain/sandbox/validation.js";
import { kPrincipal } from "../principal.js";

/**
 * organizationOf returns the caller's organization after checking the scope the call needs,
 * which METHOD_RULES declares for the procedure (the one access table; no rule, no access).
 */
function organizationOf(ctx: HandlerContext): string {
  const procedure = `${ctx.service.typeName}/${ctx.method.name}`;
  const rule = methodRule(procedure);
  const scope = rule?.auth === "apiKey" ? rule.scope : undefined;
  const principal = ctx.values.get(kPrincipal);
  if (!principal)
    throw new CoveError("unauthenticated", "CREDENTIALS_MISSING", "no credentials were sent");
  if (scope === undefined)
    throw permissionDenied("PERMISSION_DENIED", `${procedure} has no access rule`);
  if (principal.kind !== "apiKey") {
    throw permissionDenied("PERMISSION_DENIED", "SandboxService needs an organization's API key", {
      requiredScope: scope,
    });
  }
  if (!hasScope(principal.scopes, scope)) {
    throw permissionDenied("PERMISSION_DENIED", `this call needs scope ${scope}`, {
      requiredScope: scope,
    });
  }
  return principal.organizationId;
}

/** Sandbox ids are server-made DNS labels; anything else cannot name a sandbox. */
const SANDBOX_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** idOf returns a request's sandbox_id, which every call but create and list requires. */
function idOf(req: { sandboxId: string }): string {
  if (req.sandboxId === "") throw invalidArgument("sandbox_id", "is required");
  if (!SANDBOX_ID.test(req.sandboxId))
    throw invalidArgument("sandbox_id", "is not a sandbox id (lower-case letters and digits)");
  return req.sandboxId;
}

/** durationMs turns a Duration into ms; undefined when unset. */
function durationMs(d: Duration | undefined): number | undefined {
  if (!d) return undefined;
  return Number(d.seconds) * 1000 + Math.trunc(d.nanos / 1e6);
}

function stateName(value: SandboxState, field: string): SandboxStateName {
  const name = SandboxState[value];
  if (name === undefined || value === SandboxState.UNSPECIFIED)
    throw invalidArgument(field, `unknown sandbox state ${value}`);
  return name as SandboxStateName;
}

function sourceOf(req: CreateSandboxRequest): SandboxSource {
  switch (req.source.case) {
    case "image":
      return { kind: "image", image: req.source.value };
    case "snapshotId":
      return { kind: "snapshot", snapshotId: req.source.value };
    case "buildSpec":
      return { kind: "buildSpec" };
    default:
      return { kind: "default" };
  }
}

/** networkInput reads a NetworkPolicy message (unset: the default, block all). */
function networkInput(policy: NetworkPolicy | undefined): CreateSandboxInput["networkPolicy"] {
  const mode = policy?.mode ?? NetworkPolicyMode.UNSPECIFIED;
  const modeName = NetworkPolicyMode[mode] as NetworkModeName | "UNSPECIFIED" | undefined;
  if (modeName === undefined) throw invalidArgument("network_policy.mode", `unknown mode ${mode}`);
  return {
    mode: modeName,
    allowCidrs: policy?.allowCidrs ?? [],
    allowDomains: policy?.allowDomains ?? [],
  };
}

function createInput(req: CreateSandboxRequest): CreateSandboxInput {
  return {
    source: sourceOf(req),
    resources: {
      cpuMillicores: req.resources?.cpuMillicores ?? 0,
      memoryMib: req.resources?.memoryMib ?? 0,
      diskMib: req.resources?.diskMib ?? 0,
    },
    env: req.env,
    labels: req.labels,
    osUser: req.osUser,
    public: req.public,
    networkPolicy: networkInput(req.networkPolicy),
    autoStopMs: durationMs(req.autoStopInterval),
    autoArchiveMs: durationMs(req.autoArchiveInterval),
    autoDeleteMs: durationMs(req.autoDeleteInterval),
    volumes: req.volumes.map((v) => ({
      volumeId: v.volumeId,
      mountPath: v.mountPath,
      readOnly: v.readOnly,
      subPath: v.subPath,
    })),
    wait: req.wait,
    waitTimeoutMs: durationMs(req.waitTimeout),
    idempotencyKey: req.idempotencyKey,
    region: req.region,
    runtimeClass: req.runtimeClass,
  };
}

/** toProto builds the Sandbox message for a domain sandbox. */
export function toProto(sandbox: Sandbox, toolboxUrl: string): SandboxMessage {
  const gone = sandbox.state === "DESTROYED" || sandbox.state === "ARCHIVED";
  return create(SandboxSchema, {
    sandboxId: sandbox.id,
    organizationId: sandbox.organizationId,
    snapshotId: sandbox.snapshotId,
    image: sandbox.image,
    state: SandboxState[sandbox.state],
    desiredState: SandboxState[sandbox.desiredState],
    errorReason: errorReasonValue(sandbox.errorReason),
    errorMessage: sandbox.errorMessage,
    recoverable: sandbox.recoverable,
    resources: {
      cpuMillicores: sandbox.cpuMillicores,
      memoryMib: sandbox.memoryMib,
      diskMib: sandbox.diskMib,
    },
    labels: sandbox.labels,
    osUser: sandbox.osUser,
    public: sandbox.public,
    networkPolicy: {
      mode: NetworkPolicyMode[sandbox.networkPolicy.mode],
      allowCidrs: sandbox.networkPolicy.allowCidrs,
      allowDomains: sandbox.networkPolicy.allowDomains,
    },
    autoStopInterval: durationFromMs(sandbox.autoStopSeconds * 1000),
    autoArchiveInterval: durationFromMs(sandbox.autoArchiveSeconds * 1000),
    autoDeleteInterval: durationFromMs(sandbox.autoDeleteSeconds * 1000),
    volumes: sandbox.volumes,
    region: sandbox.region,
    runtimeClass: sandbox.runtimeClass,
    runnerId: gone ? "" : (sandbox.runnerId ?? ""),
    toolboxUrl,
    createTime: timestampFromDate(sandbox.createTime),
    updateTime: timestampFromDate(sandbox.updateTime),
    stateChangeTime: timestampFromDate(sandbox.stateChangeTime),
    lastActivityTime: timestampFromDate(sandbox.lastActivityTime),
  });
}

/** SandboxHandler implements SandboxService on top of SandboxLifecycle and SandboxAccess. */
export class SandboxHandler implements ServiceImpl<typeof SandboxService> {
  private readonly sandboxes: SandboxLifecycle;
  private readonly access: SandboxAccess;

  constructor(parts: Pick<SandboxManager, "lifecycle" | "access">) {
    this.sandboxes = parts.lifecycle;
    this.access = parts.access;
  }

  private proto(sandbox: Sandbox): SandboxMessage {
    return toProto(sandbox, this.sandboxes.options.urls.toolboxUrl);
  }

  async createSandbox(req: CreateSandboxRequest, ctx: HandlerContext) {
    const org = organizationOf(ctx);
    const sandbox = await this.sandboxes.create(org, createInput(req), ctx.signal);
    return { sandbox: this.proto(sandbox) };
  }

  async getSandbox(req: GetSandboxRequest, ctx: HandlerContext) {
    const org = organizationOf(ctx);
    return { sandbox: this.proto(await this.sandboxes.get(org, idOf(req))) };
  }

  async listSandboxes(req: ListSandboxesRequest, ctx: HandlerContext) {
    const org = organizationOf(ctx);
    const page = await this.sandboxes.list(org, {
      pageSize: req.pageSize,
      pageToken: req.pageToken,
      labels: req.labels,
      states: req.states
        .filter((s) => s !== SandboxState.UNSPECIFIED)
        .map((s) => stateName(s, "states")),
    });
    return {
      sandboxes: page.sandboxes.map((s) => this.proto(s)),
      nextPageToken: page.nextPageToken,
    };
  }

  async startSandbox(req: StartSandboxRequest, ctx: HandlerContext) {
    const org = organizationOf(ctx);
    const sandbox = await this.sandboxes.start(
      org,
      idOf(req),
      { wait: req.wait, waitTimeoutMs: durationMs(req.waitTimeout) },
      ctx.signal,
    );
    return { sandbox: this.proto(sandbox) };
  }

  async stopSandbox(req: StopSandboxRequest, ctx: HandlerContext) {
    const org = organizationOf(ctx);
    const sandbox = await this.sandboxes.stop(
      org,
      idOf(req),
      { wait: req.wait, waitTimeoutMs: durationMs(req.waitTimeout), force: req.force },
      ctx.signal,
    );
    return { sandbox: this.proto(sandbox) };
  }

  async archiveSandbox(req: ArchiveSandboxRequest, ctx: HandlerContext) {
    const org = organizationOf(ctx);
    const sandbox = await this.sandboxes.archive(
      org,
      idOf(req),
      { wait: req.wait, waitTimeoutMs: durationMs(req.waitTimeout) },
      ctx.signal,
    );
    return { sandbox: this.proto(sandbox) };
  }

  async deleteSandbox(req: DeleteSandboxRequest, ctx: HandlerContext) {
    const org = organizationOf(ctx);
    const sandbox = await this.sandboxes.delete(
      org,
      idOf(req),
      { wait: req.wait, waitTimeoutMs: durationMs(req.waitTimeout) },
      ctx.signal,
    );
    return { sandbox: this.proto(sandbox) };
  }

  async recoverSandbox(req: RecoverSandboxRequest, ctx: HandlerContext) {
    const org = organizationOf(ctx);
    const sandbox = await this.sandboxes.recover(
      org,
      idOf(req),
      { wait: req.wait, waitTimeoutMs: durationMs(req.waitTimeout) },
      ctx.signal,
    );
    return { sandbox: this.proto(sandbox) };
  }

  async updateSandbox(req: UpdateSandboxRequest, ctx: HandlerContext) {
    const org = organizationOf(ctx);
    const sandbox = await this.sandboxes.update(org, idOf(req), {
      paths: req.updateMask?.paths ?? [],
      labels: req.labels,
      public: req.public,
      autoStopMs: durationMs(req.autoStopInterval),
      autoArchiveMs: durationMs(req.autoArchiveInterval),
      autoDeleteMs: durationMs(req.autoDeleteInterval),
      networkPolicy: req.networkPolicy ? networkInput(req.networkPolicy) : undefined,
    });
    return { sandbox: this.proto(sandbox) };
  }

  async *watchSandbox(
    req: WatchSandboxRequest,
    ctx: HandlerContext,
  ): AsyncGenerator<WatchSandboxResponse> {
    const org = organizationOf(ctx);
    for await (const event of this.sandboxes.watch(org, idOf(req), ctx.signal)) {
      yield this.watchEvent(event);
    }
  }

  private watchEvent(event: WatchEvent): WatchSandboxResponse {
    switch (event.kind) {
      case "initial":
        return create(WatchSandboxResponseSchema, {
          event: { case: "initial", value: this.proto(event.sandbox) },
        });
      case "stateChange":
        return create(WatchSandboxResponseSchema, {
          event: {
            case: "stateChange",
            value: {
              sandbox: this.proto(event.sandbox),
              previousState: SandboxState[event.previousState],
            },
          },
        });
      case "keepalive":
        return create(WatchSandboxResponseSchema, {
          event: { case: "keepalive", value: { serverTime: timestampFromDate(event.time) } },
        });
    }
  }

  async createPreviewUrl(req: CreatePreviewUrlRequest, ctx: HandlerContext) {
    const org = organizationOf(ctx);
    const result = await this.access.createPreviewUrl(
      org,
      idOf(req),
      req.port,
      durationMs(req.expiry),
    );
    return {
      url: result.url,
      token: result.token,
      signedUrl: result.signedUrl,
      expireTime: timestampFromDate(result.expireTime),
    };
  }

  async createSshAccess(req: CreateSshAccessRequest, ctx: HandlerContext) {
    const org = organizationOf(ctx);
    const result = await this.access.createSshAccess(org, idOf(req), durationMs(req.expiry));
    return {
      token: result.token,
      sshCommand: result.sshCommand,
      host: result.host,
      port: result.port,
      expireTime: timestampFromDate(result.expireTime),
    };
  }

  async revokeSshAccess(req: RevokeSshAccessRequest, ctx: HandlerContext) {
    const org = organizationOf(ctx);
    await this.access.revokeSshAccess(org, idOf(req), req.token);
    return {};
  }

  async createSandboxToken(req: CreateSandboxTokenRequest, ctx: HandlerContext) {
    const org = organizationOf(ctx);
    const result = await this.access.createSandboxToken(org, idOf(req), durationMs(req.expiry));
    return {
      token: result.token,
      toolboxUrl: result.toolboxUrl,
      expireTime: timestampFromDate(result.expireTime),
    };
  }
}
