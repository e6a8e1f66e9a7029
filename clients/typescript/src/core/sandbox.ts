// A sandbox as the SDK presents it (Daytona's Sandbox shape): its record, lifecycle methods, and
// the toolbox APIs (process, fs, git, pty, codeInterpreter, lsp) reached through the proxy.
import { Code } from "@connectrpc/connect";
import { errorReasonName } from "@cove/common/error-reason.js";
import {
  type Sandbox as SandboxMessage,
  SandboxState,
} from "@cove/gen-ts/cove/sandbox/v1/sandbox_pb.js";
import { CodeInterpreter } from "./code-interpreter.js";
import { durationSeconds, minutes, seconds, toDate } from "./convert.js";
import type { SandboxHost } from "./cove.js";
import { sdkError } from "./errors.js";
import { FileSystem } from "./filesystem.js";
import { Git } from "./git.js";
import { Lsp, type LspLanguageId, type LspServer } from "./lsp.js";
import { Process } from "./process.js";
import { Pty } from "./pty.js";
import type { Toolbox } from "./toolbox.js";

/** The label that remembers the language a sandbox was created for (codeRun's default). */
export const LANGUAGE_LABEL = "code-language";

/** A sandbox state name: "started", "stopped", "error", … */
export type SandboxStateName = Lowercase<keyof typeof SandboxState>;

/** stateName turns the enum into its lower-case name. */
export function stateName(state: SandboxState): SandboxStateName {
  return (SandboxState[state] ?? "UNSPECIFIED").toLowerCase() as SandboxStateName;
}

/** A preview link (Daytona's PortPreviewUrl). */
export interface PreviewLink {
  /** url is the preview's address. */
  url: string;
  /** token goes in header cove-preview-token for private sandboxes. */
  token: string;
  /** signedUrl embeds the token, for browsers. */
  signedUrl: string;
  /** expiresAt is when token and signedUrl stop working. */
  expiresAt: Date | undefined;
}

/** SSH access to a sandbox. */
export interface SshAccess {
  /** token is the SSH user name. */
  token: string;
  /** sshCommand is ready to run, e.g. "ssh <token>@host -p 2222". */
  sshCommand: string;
  /** host is the SSH gateway's host. */
  host: string;
  /** port is the SSH gateway's port. */
  port: number;
  /** expiresAt is when the token stops opening sessions. */
  expiresAt: Date | undefined;
}

/** Options of the lifecycle calls that wait. */
export interface WaitOptions {
  /** timeout in seconds for the wait; default 60. 0 returns without waiting. */
  timeout?: number;
  /** signal cancels the call. */
  signal?: AbortSignal;
}

/** A sandbox. */
export class Sandbox {
  /** info is the sandbox's last known record (refreshData() reloads it). */
  info: SandboxMessage;
  private toolboxCache: Toolbox | undefined;
  private processApi: Process | undefined;
  private fsApi: FileSystem | undefined;
  private gitApi: Git | undefined;
  private ptyApi: Pty | undefined;
  private interpreterApi: CodeInterpreter | undefined;
  private lspApi: Lsp | undefined;

  constructor(
    /** host is the client the sandbox belongs to. */
    protected readonly host: SandboxHost,
    info: SandboxMessage,
  ) {
    this.info = info;
  }

  /** id is the sandbox id (also its container name on the runner). */
  get id(): string {
    return this.info.sandboxId;
  }
  /** state is the current state, e.g. "started". */
  get state(): SandboxStateName {
    return stateName(this.info.state);
  }
  /** labels are the sandbox's labels. */
  get labels(): Record<string, string> {
    return this.info.labels;
  }
  /** public is true when previews need no token. */
  get public(): boolean {
    return this.info.public;
  }
  /** user is the OS user toolbox calls run as. */
  get user(): string {
    return this.info.osUser;
  }
  /** cpu is the CPU limit in cores. */
  get cpu(): number {
    return (this.info.resources?.cpuMillicores ?? 0) / 1000;
  }
  /** memory is the memory limit in GiB. */
  get memory(): number {
    return (this.info.resources?.memoryMib ?? 0) / 1024;
  }
  /** disk is the disk size in GiB. */
  get disk(): number {
    return (this.info.resources?.diskMib ?? 0) / 1024;
  }
  /** autoStopInterval is the inactivity limit in minutes (0 = never). */
  get autoStopInterval(): number {
    return (durationSeconds(this.info.autoStopInterval) ?? 0) / 60;
  }
  /** errorReason is the ErrorReason name when state is "error", else undefined. */
  get errorReason(): string | undefined {
    return errorReasonName(this.info.errorReason);
  }
  /** errorMessage explains an "error" state. */
  get errorMessage(): string {
    return this.info.errorMessage;
  }
  /** createdAt is when the sandbox was created. */
  get createdAt(): Date | undefined {
    return toDate(this.info.createTime);
  }
  /** toolboxUrl is the URL toolbox calls go to (see the README: proxy URL discovery). */
  get toolboxUrl(): string {
    return this.host.toolboxUrlFor(this.info);
  }

  /** toolbox is the connection to this sandbox's daemon, made on first use. */
  protected get toolbox(): Toolbox {
    this.toolboxCache ??= this.host.toolboxFor(this.info);
    return this.toolboxCache;
  }

  /** process runs commands, code, background processes and sessions. */
  get process(): Process {
    this.processApi ??= new Process(this.toolbox, () => this.info.labels[LANGUAGE_LABEL]);
    return this.processApi;
  }
  /** fs reads, writes, searches and watches files. */
  get fs(): FileSystem {
    this.fsApi ??= this.createFileSystem(this.toolbox);
    return this.fsApi;
  }
  /** git works with repositories in the sandbox. */
  get git(): Git {
    this.gitApi ??= new Git(this.toolbox);
    return this.gitApi;
  }
  /** pty opens interactive terminals. */
  get pty(): Pty {
    this.ptyApi ??= new Pty(this.toolbox);
    return this.ptyApi;
  }

  /** codeInterpreter runs code in stateful contexts (variables survive between runs). */
  get codeInterpreter(): CodeInterpreter {
    this.interpreterApi ??= new CodeInterpreter(this.toolbox);
    return this.interpreterApi;
  }

  /** lsp runs language servers in the sandbox (completions, symbols, diagnostics …). */
  get lsp(): Lsp {
    this.lspApi ??= new Lsp(this.toolbox);
    return this.lspApi;
  }

  /**
   * createLspServer makes a language server for a project in the sandbox ("python",
   * "typescript" or "javascript"; the path relative to the user's home or absolute); call
   * start() on it. Daytona's name for sandbox.lsp.createServer.
   */
  createLspServer(languageId: LspLanguageId | string, pathToProject: string): LspServer {
    return this.lsp.createServer(languageId, pathToProject);
  }

  /** createFileSystem lets a platform entry point supply its own fs (Node adds local files). */
  protected createFileSystem(toolbox: Toolbox): FileSystem {
    return new FileSystem(toolbox);
  }

  /** refreshData reloads the sandbox's record. */
  async refreshData(): Promise<void> {
    this.info = (await this.host.getInfo(this.id)).info;
  }

  /** start starts a stopped or archived sandbox and waits until it is started. */
  async start(timeout?: number): Promise<void> {
    this.info = await this.host.lifecycle("start", this.id, { timeout });
  }

  /** stop stops the sandbox (its filesystem is kept) and waits until it is stopped. */
  async stop(timeout?: number): Promise<void> {
    this.info = await this.host.lifecycle("stop", this.id, { timeout });
  }

  /** archive moves a stopped sandbox's filesystem to the object store. */
  async archive(timeout?: number): Promise<void> {
    this.info = await this.host.lifecycle("archive", this.id, { timeout });
  }

  /** recover retries bringing a sandbox in error back to its desired state. */
  async recover(timeout?: number): Promise<void> {
    this.info = await this.host.lifecycle("recover", this.id, { timeout });
  }

  /** delete destroys the sandbox (from any state); with a timeout it waits until destroyed. */
  async delete(timeout = 0): Promise<void> {
    this.info = await this.host.lifecycle("delete", this.id, { timeout });
  }

  /** waitUntilStarted waits until the sandbox is started; an error state throws its reason. */
  async waitUntilStarted(timeout = 60): Promise<void> {
    if (this.info.state === SandboxState.STARTED) return;
    if (this.info.state === SandboxState.ERROR) throw this.stateError();
    await this.start(timeout);
  }

  /** stateError describes an error state as a CoveError. */
  private stateError() {
    return sdkError(
      Code.FailedPrecondition,
      `sandbox ${this.id} is in error: ${this.info.errorMessage}`,
      {
        reason: this.errorReason,
        metadata: { sandboxId: this.id },
      },
    );
  }

  /** setLabels replaces the sandbox's labels. */
  async setLabels(labels: Record<string, string>): Promise<Record<string, string>> {
    this.info = await this.host.update(this.id, { labels, updateMask: { paths: ["labels"] } });
    return this.info.labels;
  }

  /** setAutoStopInterval sets the inactivity limit in minutes (0 disables auto-stop). */
  async setAutoStopInterval(intervalMinutes: number): Promise<void> {
    this.info = await this.host.update(this.id, {
      autoStopInterval: minutes(intervalMinutes),
      updateMask: { paths: ["auto_stop_interval"] },
    });
  }

  /** setAutoArchiveInterval sets minutes in STOPPED before archiving (0 disables it). */
  async setAutoArchiveInterval(intervalMinutes: number): Promise<void> {
    this.info = await this.host.update(this.id, {
      autoArchiveInterval: minutes(intervalMinutes),
      updateMask: { paths: ["auto_archive_interval"] },
    });
  }

  /** setAutoDeleteInterval sets minutes in STOPPED before deletion (0 disables it). */
  async setAutoDeleteInterval(intervalMinutes: number): Promise<void> {
    this.info = await this.host.update(this.id, {
      autoDeleteInterval: minutes(intervalMinutes),
      updateMask: { paths: ["auto_delete_interval"] },
    });
  }

  /** getPreviewLink returns the URL and token of a port inside the sandbox. */
  async getPreviewLink(
    port: number,
    options: { expiresInSeconds?: number } = {},
  ): Promise<PreviewLink> {
    const res = await this.host.api((c, a) =>
      c.createPreviewUrl(
        {
          sandboxId: this.id,
          port,
          expiry: options.expiresInSeconds ? seconds(options.expiresInSeconds) : undefined,
        },
        a,
      ),
    );
    return {
      url: res.url,
      token: res.token,
      signedUrl: res.signedUrl,
      expiresAt: toDate(res.expireTime),
    };
  }

  /** createSshAccess mints a short-lived token for `ssh <token>@host -p port`. */
  async createSshAccess(options: { expiresInMinutes?: number } = {}): Promise<SshAccess> {
    const res = await this.host.api((c, a) =>
      c.createSshAccess(
        {
          sandboxId: this.id,
          expiry: options.expiresInMinutes ? minutes(options.expiresInMinutes) : undefined,
        },
        a,
      ),
    );
    return {
      token: res.token,
      sshCommand: res.sshCommand,
      host: res.host,
      port: res.port,
      expiresAt: toDate(res.expireTime),
    };
  }

  /** revokeSshAccess revokes one SSH token, or all of them. */
  async revokeSshAccess(token?: string): Promise<void> {
    await this.host.api(
      (c, a) => c.revokeSshAccess({ sandboxId: this.id, token: token ?? "" }, a),
      true,
    );
  }

  /**
   * createToken mints a short-lived token for this sandbox's toolbox and previews only (for a
   * browser: `new Cove({ apiKey: token, proxyUrl: toolboxUrl }).attach(id)` from "@cove/sdk/web").
   */
  async createToken(
    options: { expiresInMinutes?: number } = {},
  ): Promise<{ token: string; toolboxUrl: string; expiresAt: Date | undefined }> {
    const res = await this.host.api((c, a) =>
      c.createSandboxToken(
        {
          sandboxId: this.id,
          expiry: options.expiresInMinutes ? minutes(options.expiresInMinutes) : undefined,
        },
        a,
      ),
    );
    return { token: res.token, toolboxUrl: res.toolboxUrl, expiresAt: toDate(res.expireTime) };
  }
}
