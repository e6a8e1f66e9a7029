import { CoveError, invalidArgument, unavailable } from "@cove/common";
import type { ManagedProcess } from "./managed-process.js";
import { processEvents } from "./process-events.js";

/** How long a language server may take to answer a request, in ms. */
export const LSP_REQUEST_TIMEOUT_MS = 30_000;
/** Largest message a language server may send, in bytes (a bigger one ends the server). */
const MAX_INCOMING_BYTES = 64 * 1024 * 1024;
/** Request ids the daemon uses start with this; clients may not use them. */
export const RESERVED_ID_PREFIX = "cove-";

/** A JSON-RPC 2.0 message as parsed from the wire. */
export interface JsonRpcMessage {
  /** "2.0". */
  jsonrpc?: string;
  /** The request id (requests and responses). */
  id?: number | string | null;
  /** The method (requests and notifications). */
  method?: string;
  /** The parameters (requests and notifications). */
  params?: unknown;
  /** The result (successful responses). */
  result?: unknown;
  /** The error (failed responses). */
  error?: { code: number; message: string; data?: unknown };
}

/** Answers the requests a language server sends to its client. */
export type ServerRequestHandler = (method: string, params: unknown) => unknown;

/** Something that wants every message the server sends, as JSON text. */
export type MessageListener = (json: string, message: JsonRpcMessage) => void;

interface Pending {
  method: string;
  resolve(message: JsonRpcMessage): void;
  reject(err: unknown): void;
  timer: NodeJS.Timeout;
}

const idKey = (id: number | string) => `${typeof id}:${id}`;

/**
 * LspConnection speaks JSON-RPC 2.0 with LSP's Content-Length framing to a language server
 * over its stdin and stdout: requests with ids of its own ("cove-N") and deadlines, raw
 * messages from clients, answers to the server's own requests, and a listener per watcher.
 */
export class LspConnection {
  /** Resolves with the process's exit status when the server ended. */
  readonly exited: Promise<string>;
  private readonly pending = new Map<string, Pending>();
  private readonly listeners = new Set<MessageListener>();
  private nextId = 1;
  private exitStatus: string | undefined;

  constructor(
    private readonly proc: ManagedProcess,
    private readonly answer: ServerRequestHandler,
    /** Names the server in errors. */
    private readonly serverId: string,
  ) {
    this.exited = this.pump();
  }

  /** Whether the server still runs. */
  get alive(): boolean {
    return this.exitStatus === undefined && this.proc.running;
  }

  /** assertAlive throws UNAVAILABLE (LSP_SERVER_EXITED) once the server has ended. */
  assertAlive(): void {
    if (!this.alive) throw this.exitedError();
  }

  /** listen registers a listener for every message from the server; returns its remover. */
  listen(listener: MessageListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * request sends a request and resolves with its result. A JSON-RPC error answer is
   * FAILED_PRECONDITION (LSP_REQUEST_FAILED), no answer in time DEADLINE_EXCEEDED, a dead
   * server UNAVAILABLE (LSP_SERVER_EXITED).
   */
  async request(method: string, params: unknown, timeoutMs = LSP_REQUEST_TIMEOUT_MS) {
    const id = `${RESERVED_ID_PREFIX}${this.nextId++}`;
    const reply = await this.exchange(
      id,
      method,
      { jsonrpc: "2.0", id, method, params },
      timeoutMs,
    );
    if (reply.error) {
      throw new CoveError(
        "failedPrecondition",
        "LSP_REQUEST_FAILED",
        `the language server answered ${method} with an error: ${reply.error.message}`,
        { serverId: this.serverId, method, lspCode: String(reply.error.code) },
      );
    }
    return reply.result;
  }

  /** notify sends a notification. */
  async notify(method: string, params: unknown): Promise<void> {
    await this.write({ jsonrpc: "2.0", method, params });
  }

  /**
   * sendRaw sends one message a client wrote. For a request it resolves with the response
   * as JSON text; otherwise with "" once written. INVALID_ARGUMENT for text that is not a
   * JSON-RPC object, a reserved id or an id already in flight.
   */
  async sendRaw(json: string): Promise<string> {
    let message: JsonRpcMessage;
    try {
      message = JSON.parse(json) as JsonRpcMessage;
    } catch (err) {
      throw invalidArgument("json", `is not valid JSON: ${(err as Error).message}`);
    }
    if (message === null || typeof message !== "object" || Array.isArray(message)) {
      throw invalidArgument("json", "must be one JSON-RPC message (an object)");
    }
    const isRequest = typeof message.method === "string" && message.id !== undefined;
    if (!isRequest) {
      await this.write(message);
      return "";
    }
    const id = message.id;
    if (typeof id !== "number" && typeof id !== "string") {
      throw invalidArgument("json", "a request id must be a number or a string");
    }
    if (typeof id === "string" && id.startsWith(RESERVED_ID_PREFIX)) {
      throw invalidArgument(
        "json",
        `request ids starting with "${RESERVED_ID_PREFIX}" are reserved`,
      );
    }
    if (this.pending.has(idKey(id))) {
      throw invalidArgument("json", `a request with id ${JSON.stringify(id)} is already in flight`);
    }
    const reply = await this.exchange(
      id,
      message.method as string,
      message,
      LSP_REQUEST_TIMEOUT_MS,
    );
    return JSON.stringify(reply);
  }

  /** kill ends the server process and fails everything in flight. */
  kill(): void {
    this.proc.kill("SIGKILL");
  }

  /** stderrTail returns the last of what the server wrote to stderr, for error messages. */
  stderrTail(): string {
    return this.proc.stderr.tail().data.toString("utf8").trim().slice(-2000);
  }

  private exchange(
    id: number | string,
    method: string,
    message: JsonRpcMessage,
    timeoutMs: number,
  ): Promise<JsonRpcMessage> {
    if (!this.alive) return Promise.reject(this.exitedError());
    return new Promise<JsonRpcMessage>((resolve, reject) => {
      const key = idKey(id);
      const timer = setTimeout(() => {
        this.pending.delete(key);
        reject(
          new CoveError(
            "deadlineExceeded",
            "LSP_REQUEST_FAILED",
            `the language server did not answer ${method} within ${timeoutMs / 1000} s`,
            { serverId: this.serverId, method },
          ),
        );
      }, timeoutMs);
      this.pending.set(key, { method, resolve, reject, timer });
      this.write(message).catch((err: unknown) => {
        clearTimeout(timer);
        this.pending.delete(key);
        reject(this.alive ? err : this.exitedError());
      });
    });
  }

  private async write(message: JsonRpcMessage): Promise<void> {
    if (!this.alive) throw this.exitedError();
    const body = Buffer.from(JSON.stringify(message), "utf8");
    const header = Buffer.from(`Content-Length: ${body.length}\r\n\r\n`, "ascii");
    await this.proc.write(Buffer.concat([header, body]));
  }

  private exitedError(): CoveError {
    const status = this.exitStatus ?? this.proc.exit?.status ?? "ended";
    const tail = this.stderrTail();
    return unavailable(
      "LSP_SERVER_EXITED",
      `the language server ${this.serverId} has ended (${status})${tail ? `: ${tail}` : ""}; stop it and start another`,
      { serverId: this.serverId, exitStatus: status },
    );
  }

  private dispatch(json: string): void {
    let message: JsonRpcMessage;
    try {
      message = JSON.parse(json) as JsonRpcMessage;
    } catch {
      return;
    }
    if (message === null || typeof message !== "object") return;
    for (const listener of this.listeners) listener(json, message);
    const isResponse = message.method === undefined && message.id !== undefined;
    if (isResponse) {
      if (typeof message.id !== "number" && typeof message.id !== "string") return;
      const key = idKey(message.id);
      const pending = this.pending.get(key);
      if (!pending) return;
      this.pending.delete(key);
      clearTimeout(pending.timer);
      pending.resolve(message);
      return;
    }
    if (message.method !== undefined && message.id !== undefined && message.id !== null) {
      void this.reply(message.id, message.method, message.params);
    }
  }

  private async reply(id: number | string, method: string, params: unknown): Promise<void> {
    let response: JsonRpcMessage;
    try {
      response = { jsonrpc: "2.0", id, result: (await this.answer(method, params)) ?? null };
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      response = { jsonrpc: "2.0", id, error: { code: -32601, message } };
    }
    await this.write(response).catch(() => undefined);
  }

  private async pump(): Promise<string> {
    let buffer: Buffer = Buffer.alloc(0);
    let status = "ended";
    try {
      for await (const event of processEvents(this.proc, { stdout: 0, stderr: 0 })) {
        if (event.kind === "end") {
          if (status === "ended") status = event.exit.status;
          break;
        }
        if (event.kind !== "data" || event.stream !== "stdout") continue;
        buffer = buffer.length === 0 ? event.data : Buffer.concat([buffer, event.data]);
        for (;;) {
          const headerEnd = buffer.indexOf("\r\n\r\n");
          if (headerEnd < 0) break;
          const header = buffer.subarray(0, headerEnd).toString("ascii");
          const length = /content-length:\s*(\d+)/i.exec(header)?.[1];
          if (length === undefined || Number(length) > MAX_INCOMING_BYTES) {
            // Not LSP, or a message too big to hold: the stream cannot be trusted any more.
            this.proc.kill("SIGKILL");
            status = length === undefined ? "protocol error" : "message too large";
            buffer = Buffer.alloc(0);
            break;
          }
          const start = headerEnd + 4;
          if (buffer.length < start + Number(length)) break;
          const body = buffer.subarray(start, start + Number(length)).toString("utf8");
          buffer = buffer.subarray(start + Number(length));
          this.dispatch(body);
        }
      }
    } finally {
      this.exitStatus = status;
      const err = this.exitedError();
      for (const [key, pending] of this.pending) {
        clearTimeout(pending.timer);
        this.pending.delete(key);
        pending.reject(err);
      }
    }
    return status;
  }
}
