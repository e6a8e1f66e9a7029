// The SDK's client (Daytona's `Daytona` class): configuration, the API server's SandboxService,
// one transport per base URL, and the lifecycle calls. Platform-neutral: the Node and web entry
// points hand it their transports.
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import {
  type Client,
  Code,
  createClient,
  type Interceptor,
  type Transport,
} from "@connectrpc/connect";
import { ApiKeyService } from "@cove/gen-ts/cove/iam/v1/api_key_service_pb.js";
import { AuditService } from "@cove/gen-ts/cove/iam/v1/audit_service_pb.js";
import { OrganizationService } from "@cove/gen-ts/cove/iam/v1/organization_service_pb.js";
import {
  NetworkPolicyMode,
  type Sandbox as SandboxMessage,
  SandboxSchema,
  SandboxState,
} from "@cove/gen-ts/cove/sandbox/v1/sandbox_pb.js";
import {
  SandboxService,
  type UpdateSandboxRequestSchema,
} from "@cove/gen-ts/cove/sandbox/v1/sandbox_service_pb.js";
import { minutes, seconds } from "./convert.js";
import { type CoveError, sdkError, toCoveError } from "./errors.js";
import { ApiKeys, Audit, Organizations } from "./iam.js";
import { type AttemptOptions, type CallPolicy, type Platform, unary } from "./rpc.js";
import { LANGUAGE_LABEL, type Sandbox } from "./sandbox.js";
import { Toolbox } from "./toolbox.js";

/** Configuration of a Cove client; every field may also come from the environment (Node). */
export interface CoveConfig {
  /** apiKey authenticates every call (env COVE_API_KEY). */
  apiKey?: string;
  /** apiUrl is the API server (env COVE_API_URL; default http://localhost:3000). */
  apiUrl?: string;
  /**
   * proxyUrl is where toolbox calls go (env COVE_PROXY_URL). Either wins over the
   * Sandbox.toolbox_url the server reports, which is used only when both are unset. See the
   * README ("Proxy URL discovery").
   */
  proxyUrl?: string;
  /** timeoutMs is the default deadline of a unary call (default 60 000). */
  timeoutMs?: number;
  /** retries is how often a retryable call is retried (default 4). */
  retries?: number;
  /** idleTimeoutMs ends streams that receive nothing for this long (default 45 000). */
  idleTimeoutMs?: number;
}

/** Resources of a new sandbox: Daytona's units (cores, GiB) or exact ones. */
export interface Resources {
  /** cpu is the CPU limit in cores (fractions allowed). */
  cpu?: number;
  /** memory is the memory limit in GiB. */
  memory?: number;
  /** disk is the disk size in GiB. */
  disk?: number;
  /** cpuMillicores is the CPU limit in thousandths of a core (wins over cpu). */
  cpuMillicores?: number;
  /** memoryMib is the memory limit in MiB (wins over memory). */
  memoryMib?: number;
  /** diskMib is the disk size in MiB (wins over disk). */
  diskMib?: number;
}

/** Parameters of create (Daytona's CreateSandboxParams). */
export interface CreateSandboxParams {
  /** image is an image reference; default the server's base image (python3, node, git). */
  image?: string;
  /** snapshot is a snapshot id or name to start from instead of an image. */
  snapshot?: string;
  /** language is codeRun's default language for this sandbox (stored as a label). */
  language?: string;
  /** resources are the CPU, memory and disk limits. */
  resources?: Resources;
  /** env holds environment variables for every process (write-only). */
  env?: Record<string, string>;
  /** envVars is Daytona's name for env. */
  envVars?: Record<string, string>;
  /** labels are key/value labels for finding the sandbox. */
  labels?: Record<string, string>;
  /** public makes preview URLs work without a token. */
  public?: boolean;
  /** user is the OS user toolbox calls run as (default "cove"). */
  user?: string;
  /** autoStopInterval in minutes (default 15; 0 disables). */
  autoStopInterval?: number;
  /** autoArchiveInterval in minutes (default 7 days; 0 disables). */
  autoArchiveInterval?: number;
  /** autoDeleteInterval in minutes (default: never). */
  autoDeleteInterval?: number;
  /** networkAllowAll allows outbound traffic (default: no network). */
  networkAllowAll?: boolean;
  /** networkAllowList allows outbound traffic to these CIDRs (array or comma-separated). */
  networkAllowList?: string | string[];
  /** volumes are mounted into the sandbox. */
  volumes?: { volumeId: string; mountPath: string; readOnly?: boolean; subPath?: string }[];
  /** region places the sandbox in a region. */
  region?: string;
  /** runtimeClass is "runc" or "runsc" (gVisor). */
  runtimeClass?: string;
  /** idempotencyKey makes retries safe; the SDK makes one per call when unset. */
  idempotencyKey?: string;
  /** timeout in seconds to wait for STARTED (default 60; at most 600). */
  timeout?: number;
}

/** Options of create (Daytona passes timeout here). */
export interface CreateOptions {
  /** timeout in seconds to wait for STARTED (default 60). */
  timeout?: number;
  /** signal cancels the call. */
  signal?: AbortSignal;
}

/** Filters of list. */
export interface ListParams {
  /** labels keeps sandboxes with all of these labels. */
  labels?: Record<string, string>;
  /** states keeps sandboxes in these states (names like "started"); default all but destroyed. */
  states?: string[];
  /** pageSize is the page size of each call (default 100). */
  pageSize?: number;
}

/** A lifecycle call that waits. */
export type LifecycleAction = "start" | "stop" | "archive" | "recover" | "delete";

/** What a Sandbox needs from its client. */
export interface SandboxHost {
  /** getInfo loads a sandbox's record. */
  getInfo(id: string): Promise<{ info: SandboxMessage }>;
  /** lifecycle runs a lifecycle call and returns the record after it. */
  lifecycle(
    action: LifecycleAction,
    id: string,
    options: { timeout?: number; signal?: AbortSignal },
  ): Promise<SandboxMessage>;
  /** update changes settings and returns the record after it. */
  update(
    id: string,
    change: Omit<MessageInitShape<typeof UpdateSandboxRequestSchema>, "sandboxId">,
  ): Promise<SandboxMessage>;
  /** api runs a SandboxService call with the policy. */
  api<T>(
    call: (client: Client<typeof SandboxService>, attempt: AttemptOptions) => Promise<T>,
    idempotent?: boolean,
  ): Promise<T>;
  /** toolboxUrlFor says where a sandbox's toolbox calls go. */
  toolboxUrlFor(info: SandboxMessage): string;
  /** toolboxFor connects a sandbox's toolbox. */
  toolboxFor(info: SandboxMessage): Toolbox;
}

/** How long deleting the sandbox of a failed create may take, ms. */
const DISCARD_TIMEOUT_MS = 30_000;

/**
 * createdSandboxId names the sandbox a failed CreateSandbox made, if it made one: the
 * ErrorInfo metadata `sandbox_id` (set once the sandbox's row exists), else the `sandboxId`
 * a failed wait for STARTED names (ERROR state, timeout, state conflict). An
 * IDEMPOTENCY_CONFLICT names another request's sandbox, never this one's.
 */
export function createdSandboxId(err: CoveError): string | undefined {
  const explicit = err.metadata.sandbox_id;
  if (explicit) return explicit;
  if (err.reason === "IDEMPOTENCY_CONFLICT") return undefined;
  return err.metadata.sandboxId || undefined;
}

/** Default wait for STARTED etc., seconds (the server's default). */
const DEFAULT_WAIT_S = 60;
/** Extra deadline beyond a server-side wait. */
const WAIT_MARGIN_MS = 10_000;

function randomKey(): string {
  const c = globalThis.crypto;
  if (c?.randomUUID) return c.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
}

/**
 * CoveClient is the platform-neutral client; `Cove` from "@cove/sdk" (Node) and
 * "@cove/sdk/web" (browsers) are it with a platform filled in.
 */
export class CoveClient<S extends Sandbox = Sandbox> implements SandboxHost {
  /** apiUrl is the API server in use. */
  readonly apiUrl: string;
  /** policy is the deadline and retry policy of every call. */
  readonly policy: CallPolicy;
  private readonly apiKey: string;
  private readonly proxyUrl: string | undefined;
  private readonly envProxyUrl: string | undefined;
  private readonly transports = new Map<string, Transport>();
  private readonly sandboxService: Client<typeof SandboxService>;
  private organizationsApi: Organizations | undefined;
  private apiKeysApi: ApiKeys | undefined;
  private auditApi: Audit | undefined;

  constructor(
    config: CoveConfig,
    /** platform is what the runtime provides (transports, env). */
    protected readonly platform: Platform,
    private readonly makeSandbox: (host: SandboxHost, info: SandboxMessage) => S,
  ) {
    const apiKey = config.apiKey ?? platform.env("COVE_API_KEY");
    if (!apiKey) {
      throw sdkError(Code.Unauthenticated, "no API key: pass { apiKey } or set COVE_API_KEY", {
        reason: "CREDENTIALS_MISSING",
      });
    }
    this.apiKey = apiKey;
    this.apiUrl = trimSlash(
      config.apiUrl ?? platform.env("COVE_API_URL") ?? "http://localhost:3000",
    );
    this.proxyUrl = config.proxyUrl ? trimSlash(config.proxyUrl) : undefined;
    const envProxy = platform.env("COVE_PROXY_URL");
    this.envProxyUrl = envProxy ? trimSlash(envProxy) : undefined;
    this.policy = {
      timeoutMs: config.timeoutMs ?? 60_000,
      retries: config.retries ?? 4,
      idleTimeoutMs: config.idleTimeoutMs ?? 45_000,
    };
    this.sandboxService = createClient(SandboxService, this.transport(this.apiUrl));
  }

  /** organizations manages organizations, their members, usage and quotas. */
  get organizations(): Organizations {
    this.organizationsApi ??= new Organizations(
      createClient(OrganizationService, this.transport(this.apiUrl)),
      this.policy,
    );
    return this.organizationsApi;
  }

  /** apiKeys creates, lists and revokes the organization's API keys. */
  get apiKeys(): ApiKeys {
    this.apiKeysApi ??= new ApiKeys(
      createClient(ApiKeyService, this.transport(this.apiUrl)),
      this.policy,
    );
    return this.apiKeysApi;
  }

  /** audit reads the organization's audit log. */
  get audit(): Audit {
    this.auditApi ??= new Audit(
      createClient(AuditService, this.transport(this.apiUrl)),
      this.policy,
    );
    return this.auditApi;
  }

  /** transport returns the (shared) transport of a base URL, with the API key attached. */
  protected transport(baseUrl: string): Transport {
    let t = this.transports.get(baseUrl);
    if (!t) {
      const key = this.apiKey;
      const auth: Interceptor = (next) => (req) => {
        req.header.set("authorization", `Bearer ${key}`);
        return next(req);
      };
      t = this.platform.createTransport(baseUrl, [auth]);
      this.transports.set(baseUrl, t);
    }
    return t;
  }

  /** create makes a sandbox and resolves once it is STARTED (its toolbox answers). */
  async create(params: CreateSandboxParams = {}, options: CreateOptions = {}): Promise<S> {
    const waitS = Math.min(600, options.timeout ?? params.timeout ?? DEFAULT_WAIT_S);
    const labels = { ...params.labels };
    if (params.language) labels[LANGUAGE_LABEL] = params.language.toLowerCase();
    const r = params.resources ?? {};
    const allowList =
      typeof params.networkAllowList === "string"
        ? params.networkAllowList
            .split(",")
            .map((s) => s.trim())
            .filter(Boolean)
        : params.networkAllowList;
    const request = {
      source: params.snapshot
        ? { case: "snapshotId" as const, value: params.snapshot }
        : params.image
          ? { case: "image" as const, value: params.image }
          : { case: undefined },
      resources: {
        cpuMillicores: r.cpuMillicores ?? (r.cpu ? Math.round(r.cpu * 1000) : 0),
        memoryMib: r.memoryMib ?? (r.memory ? Math.round(r.memory * 1024) : 0),
        diskMib: r.diskMib ?? (r.disk ? Math.round(r.disk * 1024) : 0),
      },
      env: { ...params.envVars, ...params.env },
      labels,
      osUser: params.user ?? "",
      public: params.public ?? false,
      networkPolicy: allowList?.length
        ? { mode: NetworkPolicyMode.ALLOW_LIST, allowCidrs: allowList }
        : params.networkAllowAll
          ? { mode: NetworkPolicyMode.ALLOW_ALL }
          : undefined,
      autoStopInterval:
        params.autoStopInterval === undefined ? undefined : minutes(params.autoStopInterval),
      autoArchiveInterval:
        params.autoArchiveInterval === undefined ? undefined : minutes(params.autoArchiveInterval),
      autoDeleteInterval:
        params.autoDeleteInterval === undefined ? undefined : minutes(params.autoDeleteInterval),
      volumes: params.volumes?.map((v) => ({
        volumeId: v.volumeId,
        mountPath: v.mountPath,
        readOnly: v.readOnly ?? false,
        subPath: v.subPath ?? "",
      })),
      wait: waitS > 0,
      waitTimeout: waitS > 0 ? seconds(waitS) : undefined,
      // With a key, a retried create returns the first one's sandbox: safe to retry.
      idempotencyKey: params.idempotencyKey ?? randomKey(),
      region: params.region ?? "",
      runtimeClass: params.runtimeClass ?? "",
    };
    const started = Date.now();
    let info: SandboxMessage | undefined;
    try {
      info = (
        await unary(
          this.policy,
          { idempotent: true, timeoutMs: waitS * 1000 + WAIT_MARGIN_MS, signal: options.signal },
          (a) => this.sandboxService.createSandbox(request, a),
        )
      ).sandbox;
    } catch (err) {
      const e = toCoveError(err);
      const made = createdSandboxId(e);
      if (made) await this.discard(made);
      throw e;
    }
    if (!info) throw sdkError(Code.Internal, "the server returned no sandbox");
    if (waitS > 0 && info.state !== SandboxState.STARTED) {
      // The server answered before the sandbox was STARTED: wait here, and do not leave a
      // sandbox behind that the caller never got.
      const left = Math.max(1, Math.ceil(waitS - (Date.now() - started) / 1000));
      try {
        info = await this.lifecycle("start", info.sandboxId, {
          timeout: left,
          signal: options.signal,
        });
      } catch (err) {
        await this.discard(info.sandboxId);
        throw err;
      }
    }
    return this.makeSandbox(this, info);
  }

  /** discard deletes a sandbox that a failed create made, best effort (errors are dropped). */
  private async discard(sandboxId: string): Promise<void> {
    try {
      await unary(this.policy, { idempotent: true, timeoutMs: DISCARD_TIMEOUT_MS }, (a) =>
        this.sandboxService.deleteSandbox({ sandboxId, wait: false }, a),
      );
    } catch {
      // Best effort: the create's own error is what the caller needs to see.
    }
  }

  /** get returns a sandbox by id (CoveNotFoundError when it does not exist). */
  async get(sandboxId: string): Promise<S> {
    const { info } = await this.getInfo(sandboxId);
    return this.makeSandbox(this, info);
  }

  /**
   * attach returns a Sandbox for its toolbox only, without asking the API server: for a browser
   * holding a sandbox token (`new Cove({ apiKey: token, proxyUrl: toolboxUrl }).attach(id)`).
   * Its info has only the id until refreshData() (which needs an API key).
   */
  attach(sandboxId: string): S {
    return this.makeSandbox(
      this,
      create(SandboxSchema, { sandboxId, state: SandboxState.STARTED }),
    );
  }

  /** list returns every sandbox that matches (all pages). */
  async list(params: ListParams = {}): Promise<S[]> {
    const out: S[] = [];
    for await (const s of this.iterate(params)) out.push(s);
    return out;
  }

  /** iterate yields the matching sandboxes, newest first, fetching pages as it goes. */
  async *iterate(params: ListParams = {}): AsyncGenerator<S, void, undefined> {
    let pageToken = "";
    const states = (params.states ?? []).map((s) => {
      const v = SandboxState[s.toUpperCase() as keyof typeof SandboxState];
      if (v === undefined) throw sdkError(Code.InvalidArgument, `unknown sandbox state "${s}"`);
      return v;
    });
    do {
      const res = await this.api((c, a) =>
        c.listSandboxes(
          { labels: params.labels ?? {}, states, pageSize: params.pageSize ?? 100, pageToken },
          a,
        ),
      );
      for (const info of res.sandboxes) yield this.makeSandbox(this, info);
      pageToken = res.nextPageToken;
    } while (pageToken);
  }

  /** start starts a sandbox (or id) and waits until STARTED. */
  async start(sandbox: Sandbox | string, timeout?: number): Promise<void> {
    const info = await this.lifecycle("start", idOf(sandbox), { timeout });
    if (typeof sandbox !== "string") sandbox.info = info;
  }

  /** stop stops a sandbox (or id) and waits until STOPPED. */
  async stop(sandbox: Sandbox | string, timeout?: number): Promise<void> {
    const info = await this.lifecycle("stop", idOf(sandbox), { timeout });
    if (typeof sandbox !== "string") sandbox.info = info;
  }

  /** delete destroys a sandbox (or id); with a timeout (seconds) it waits until DESTROYED. */
  async delete(sandbox: Sandbox | string, timeout = 0): Promise<void> {
    const info = await this.lifecycle("delete", idOf(sandbox), { timeout });
    if (typeof sandbox !== "string") sandbox.info = info;
  }

  /** close releases this client's connections (Node); calls in flight fail. */
  close(): void {
    this.platform.close();
  }

  // SandboxHost

  /** getInfo loads a sandbox's record. */
  async getInfo(sandboxId: string): Promise<{ info: SandboxMessage }> {
    const res = await this.api((c, a) => c.getSandbox({ sandboxId }, a));
    if (!res.sandbox) throw sdkError(Code.Internal, "the server returned no sandbox");
    return { info: res.sandbox };
  }

  /** lifecycle runs start/stop/archive/recover/delete, waiting when timeout > 0. */
  async lifecycle(
    action: LifecycleAction,
    sandboxId: string,
    options: { timeout?: number; signal?: AbortSignal },
  ): Promise<SandboxMessage> {
    const waitS = Math.min(600, options.timeout ?? (action === "delete" ? 0 : DEFAULT_WAIT_S));
    const req = {
      sandboxId,
      wait: waitS > 0,
      waitTimeout: waitS > 0 ? seconds(waitS) : undefined,
    };
    const timeoutMs = waitS * 1000 + WAIT_MARGIN_MS;
    const c = this.sandboxService;
    const call = (a: AttemptOptions): Promise<{ sandbox?: SandboxMessage }> => {
      switch (action) {
        case "start":
          return c.startSandbox(req, a);
        case "stop":
          return c.stopSandbox(req, a);
        case "archive":
          return c.archiveSandbox(req, a);
        case "recover":
          return c.recoverSandbox(req, a);
        case "delete":
          return c.deleteSandbox(req, a);
      }
    };
    // Every lifecycle call returns the sandbox as is when it is already there: idempotent.
    const res = await unary(
      this.policy,
      { idempotent: true, timeoutMs, signal: options.signal },
      call,
    );
    if (!res.sandbox) throw sdkError(Code.Internal, "the server returned no sandbox");
    return res.sandbox;
  }

  /** update changes a sandbox's settings. */
  async update(
    sandboxId: string,
    change: Omit<MessageInitShape<typeof UpdateSandboxRequestSchema>, "sandboxId">,
  ): Promise<SandboxMessage> {
    const req = { ...change, sandboxId } as MessageInitShape<typeof UpdateSandboxRequestSchema>;
    const res = await this.api((c, a) => c.updateSandbox(req, a), true);
    if (!res.sandbox) throw sdkError(Code.Internal, "the server returned no sandbox");
    return res.sandbox;
  }

  /** api runs one SandboxService call under the policy (reads are idempotent). */
  api<T>(
    call: (client: Client<typeof SandboxService>, attempt: AttemptOptions) => Promise<T>,
    idempotent = true,
  ): Promise<T> {
    return unary(this.policy, { idempotent }, (a) => call(this.sandboxService, a));
  }

  /**
   * toolboxUrlFor picks where a sandbox's toolbox calls go: the proxyUrl option, else
   * COVE_PROXY_URL, else the server's Sandbox.toolbox_url. What the caller configured always
   * wins over what the server reports (which may be an address only reachable from inside).
   */
  toolboxUrlFor(info: SandboxMessage): string {
    const url =
      this.proxyUrl ??
      this.envProxyUrl ??
      (info.toolboxUrl ? trimSlash(info.toolboxUrl) : undefined);
    if (!url) {
      throw sdkError(
        Code.FailedPrecondition,
        "no toolbox URL: the server reported none; pass { proxyUrl } or set COVE_PROXY_URL",
        { reason: "PROXY_URL_UNKNOWN", metadata: { sandboxId: info.sandboxId } },
      );
    }
    return url;
  }

  /** toolboxFor connects a sandbox's toolbox through the proxy. */
  toolboxFor(info: SandboxMessage): Toolbox {
    return new Toolbox(
      info.sandboxId,
      this.transport(this.toolboxUrlFor(info)),
      this.policy,
      this.platform,
    );
  }
}

function idOf(sandbox: Sandbox | string): string {
  return typeof sandbox === "string" ? sandbox : sandbox.id;
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, "");
}
