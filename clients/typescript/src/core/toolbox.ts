// The connection of one sandbox's toolbox: Connect clients of the cove.toolbox.v1 services on the
// proxy's transport, the header that names the sandbox, and the call policy.

import type { Transport } from "@connectrpc/connect";
import { type Client, createClient } from "@connectrpc/connect";
import { FilesystemService } from "@cove/gen-ts/cove/toolbox/v1/filesystem_service_pb.js";
import { GitService } from "@cove/gen-ts/cove/toolbox/v1/git_service_pb.js";
import { InterpreterService } from "@cove/gen-ts/cove/toolbox/v1/interpreter_service_pb.js";
import { LspService } from "@cove/gen-ts/cove/toolbox/v1/lsp_service_pb.js";
import { ProcessService } from "@cove/gen-ts/cove/toolbox/v1/process_service_pb.js";
import { PtyService } from "@cove/gen-ts/cove/toolbox/v1/pty_service_pb.js";
import {
  type AttemptOptions,
  type CallPolicy,
  type Platform,
  type StreamOptions,
  type UnaryOptions,
  unary,
  watched,
} from "./rpc.js";

/** The header that names the sandbox on toolbox calls through the proxy. */
export const SANDBOX_ID_HEADER = "cove-sandbox-id";

/** Everything a toolbox API (process, fs, git, pty, codeInterpreter, lsp) needs to call one sandbox. */
export class Toolbox {
  /** process is the ProcessService client. */
  readonly process: Client<typeof ProcessService>;
  /** fs is the FilesystemService client. */
  readonly fs: Client<typeof FilesystemService>;
  /** git is the GitService client. */
  readonly git: Client<typeof GitService>;
  /** pty is the PtyService client. */
  readonly pty: Client<typeof PtyService>;
  /** interpreter is the InterpreterService client. */
  readonly interpreter: Client<typeof InterpreterService>;
  /** lsp is the LspService client. */
  readonly lsp: Client<typeof LspService>;
  /** headers name the sandbox on every call. */
  readonly headers: Record<string, string>;

  constructor(
    /** sandboxId is the sandbox these calls reach. */
    readonly sandboxId: string,
    transport: Transport,
    /** policy is the deadline and retry policy. */
    readonly policy: CallPolicy,
    /** platform says what the runtime can do (client streaming). */
    readonly platform: Platform,
  ) {
    this.process = createClient(ProcessService, transport);
    this.fs = createClient(FilesystemService, transport);
    this.git = createClient(GitService, transport);
    this.pty = createClient(PtyService, transport);
    this.interpreter = createClient(InterpreterService, transport);
    this.lsp = createClient(LspService, transport);
    this.headers = { [SANDBOX_ID_HEADER]: sandboxId };
  }

  /** call runs a unary toolbox call with the sandbox header, deadline and retry policy. */
  call<T>(
    options: Omit<UnaryOptions, "headers">,
    fn: (attempt: AttemptOptions) => Promise<T>,
  ): Promise<T> {
    return unary(this.policy, { ...options, headers: this.headers }, fn);
  }

  /** stream reads a server stream with the sandbox header under an idle deadline. */
  stream<T>(
    options: Omit<StreamOptions, "headers">,
    open: Parameters<typeof watched<T>>[2],
  ): AsyncGenerator<T, void, undefined> {
    return watched(this.policy, { ...options, headers: this.headers }, open);
  }
}
