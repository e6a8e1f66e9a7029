import * as crypto from "node:crypto";
import * as net from "node:net";
import {
  CoveError,
  failedPrecondition,
  invalidArgument,
  notFound,
  resourceExhausted,
  unavailable,
} from "@cove/common";
import {
  dialAddresses,
  type ListeningSocket,
  listListeningPorts,
  readListeningSockets,
} from "./ports.js";

/** Tunnels that may be open at once. */
export const MAX_TUNNELS = 256;
/** Largest data frame accepted or sent, in bytes. */
export const MAX_TUNNEL_FRAME_BYTES = 1024 * 1024;
/** TCP connect timeout when a request leaves it unset, and its maximum, in ms. */
export const CONNECT_TIMEOUT_MS = { default: 5_000, max: 60_000 } as const;
/** WaitForPort's timeout when unset, and its maximum, in ms. */
export const WAIT_FOR_PORT_MS = { default: 30_000, max: 10 * 60_000 } as const;
/** How often WaitForPort tries to connect, in ms. */
export const WAIT_FOR_PORT_POLL_MS = 100;

/** App bytes buffered for a slow client before the socket is paused. */
const HIGH_WATER_BYTES = 1024 * 1024;
/** How long a closed tunnel's id is remembered so that closing it again is success. */
const TOMBSTONE_MS = 60_000;

/** validatePort checks a port number from a request (1..65535). */
export function validatePort(port: number, field = "port"): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw invalidArgument(field, "must be between 1 and 65535");
  }
  return port;
}

/** validateTimeout checks an optional duration (ms) against its default and maximum. */
export function validateTimeout(
  ms: number | undefined,
  limits: { default: number; max: number },
  field: string,
  allowZero = false,
): number {
  if (ms === undefined) return limits.default;
  if (ms < 0 || (ms === 0 && !allowZero)) throw invalidArgument(field, "must be positive");
  if (ms > limits.max) throw invalidArgument(field, `must be at most ${limits.max / 1000} s`);
  return ms;
}

/** checkFrame rejects a data frame above MAX_TUNNEL_FRAME_BYTES. */
export function checkFrame(data: Uint8Array, field = "data"): void {
  if (data.length > MAX_TUNNEL_FRAME_BYTES) {
    throw resourceExhausted(
      "PAYLOAD_TOO_LARGE",
      `data is larger than ${MAX_TUNNEL_FRAME_BYTES} bytes`,
      {
        limitBytes: String(MAX_TUNNEL_FRAME_BYTES),
        field,
      },
    );
  }
}

/** One event from the app's side of a tunnel. */
export type TunnelAppEvent = { type: "data"; data: Buffer } | { type: "eof" };

/**
 * Tunnel is one TCP connection to a port inside the sandbox, relayed as frames. Both
 * directions close independently: closeWrite() shuts down the write side (the app sees EOF),
 * and the app's own FIN becomes an eof event. The events end once both are closed.
 */
export class Tunnel {
  private readonly chunks: Buffer[] = [];
  private queuedBytes = 0;
  private appEnded = false;
  private eofSent = false;
  private writeClosed = false;
  private aborted = false;
  private error: Error | undefined;
  private wake: (() => void) | undefined;

  constructor(
    /** The tunnel id, "tun_" and 22 random base62 characters. */
    readonly id: string,
    /** The address dialled, e.g. "127.0.0.1:3000". */
    readonly remoteAddress: string,
    private readonly socket: net.Socket,
    private readonly port: number,
  ) {
    socket.on("data", (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.queuedBytes += chunk.length;
      if (this.queuedBytes > HIGH_WATER_BYTES) socket.pause();
      this.poke();
    });
    socket.on("end", () => {
      this.appEnded = true;
      this.poke();
    });
    socket.on("error", (err) => {
      this.error ??= err;
      this.poke();
    });
    socket.on("close", () => this.poke());
  }

  /** Whether the write side towards the app is closed. */
  get isWriteClosed(): boolean {
    return this.writeClosed;
  }

  /**
   * events yields the app's bytes (frames of at most 1 MiB) and then eof; it ends when both
   * directions are closed, at abort(), or when `signal` aborts. Throws UNAVAILABLE (reason
   * PORT_CLOSED) when the app resets the connection.
   */
  async *events(signal: AbortSignal): AsyncGenerator<TunnelAppEvent> {
    const onAbort = () => this.poke();
    signal.addEventListener("abort", onAbort);
    try {
      for (;;) {
        if (this.aborted || signal.aborted) return;
        const chunk = this.chunks.shift();
        if (chunk !== undefined) {
          this.queuedBytes -= chunk.length;
          if (this.queuedBytes <= HIGH_WATER_BYTES / 2 && this.socket.isPaused())
            this.socket.resume();
          for (let at = 0; at < chunk.length; at += MAX_TUNNEL_FRAME_BYTES) {
            yield { type: "data", data: chunk.subarray(at, at + MAX_TUNNEL_FRAME_BYTES) };
          }
          continue;
        }
        if (this.error !== undefined) throw this.resetError();
        if (this.appEnded && !this.eofSent) {
          this.eofSent = true;
          yield { type: "eof" };
          continue;
        }
        if (this.eofSent && this.writeClosed) return;
        if (this.socket.destroyed && !this.appEnded) throw this.resetError();
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
      }
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }

  /**
   * write sends bytes to the app and resolves once the socket took them. FAILED_PRECONDITION
   * after closeWrite(); UNAVAILABLE (reason PORT_CLOSED) when the connection is gone.
   */
  async write(data: Uint8Array): Promise<void> {
    checkFrame(data);
    if (this.writeClosed) {
      throw failedPrecondition("PORT_CLOSED", `the write side of tunnel ${this.id} is closed`, {
        tunnelId: this.id,
      });
    }
    if (this.aborted || this.socket.destroyed) throw this.resetError();
    if (data.length === 0) return;
    await new Promise<void>((resolve, reject) => {
      this.socket.write(data, (err) => (err ? reject(this.resetError()) : resolve()));
    });
  }

  /** closeWrite shuts down the write side (the app reads EOF). Idempotent. */
  closeWrite(): void {
    if (this.writeClosed) return;
    this.writeClosed = true;
    if (!this.socket.destroyed) this.socket.end();
    this.poke();
  }

  /** abort closes the whole connection at once; events() then ends quietly. Idempotent. */
  abort(): void {
    this.aborted = true;
    this.writeClosed = true;
    this.socket.destroy();
    this.poke();
  }

  private resetError(): CoveError {
    return unavailable("PORT_CLOSED", `the app on port ${this.port} closed the connection`, {
      port: String(this.port),
      tunnelId: this.id,
    });
  }

  private poke(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

/**
 * TunnelRegistry opens tunnels, enforces MAX_TUNNELS, and finds OpenTunnel connections by id
 * for SendTunnelData and CloseTunnel.
 */
export class TunnelRegistry {
  private readonly tunnels = new Map<string, Tunnel>();
  private readonly tombstones = new Map<string, number>();
  private dialing = 0;

  constructor(private readonly maxTunnels = MAX_TUNNELS) {}

  /**
   * open connects to a port inside the sandbox and registers the tunnel. RESOURCE_EXHAUSTED
   * at the cap; FAILED_PRECONDITION (reason PORT_CLOSED) when nothing accepts the connection.
   */
  async open(port: number, connectTimeoutMs: number, signal?: AbortSignal): Promise<Tunnel> {
    if (this.tunnels.size + this.dialing >= this.maxTunnels) {
      throw resourceExhausted(
        "STREAM_LIMIT_EXCEEDED",
        `at most ${this.maxTunnels} tunnels may be open at once`,
        {
          limit: String(this.maxTunnels),
        },
      );
    }
    this.dialing++;
    let dialed: { socket: net.Socket; remoteAddress: string };
    try {
      dialed = await dialPort(port, connectTimeoutMs, signal);
    } finally {
      this.dialing--;
    }
    const tunnel = new Tunnel(newTunnelId(), dialed.remoteAddress, dialed.socket, port);
    this.tunnels.set(tunnel.id, tunnel);
    return tunnel;
  }

  /** get returns an open tunnel or NOT_FOUND (reason TUNNEL_NOT_FOUND). */
  get(tunnelId: string): Tunnel {
    const tunnel = this.tunnels.get(tunnelId);
    if (tunnel === undefined) {
      throw notFound("TUNNEL_NOT_FOUND", `no open tunnel ${tunnelId}`, { tunnelId });
    }
    return tunnel;
  }

  /** close half-closes (or with abort, closes) a tunnel; closing a closed tunnel is success. */
  close(tunnelId: string, abort: boolean): void {
    const tunnel = this.tunnels.get(tunnelId);
    if (tunnel === undefined) {
      this.sweepTombstones();
      if (this.tombstones.has(tunnelId)) return;
      throw notFound("TUNNEL_NOT_FOUND", `no tunnel ${tunnelId}`, { tunnelId });
    }
    if (abort) tunnel.abort();
    else tunnel.closeWrite();
  }

  /** release closes a tunnel whose stream has ended and forgets it. */
  release(tunnel: Tunnel): void {
    tunnel.abort();
    if (this.tunnels.get(tunnel.id) === tunnel) {
      this.tunnels.delete(tunnel.id);
      this.tombstones.set(tunnel.id, Date.now() + TOMBSTONE_MS);
    }
  }

  /** closeAll closes every tunnel. */
  closeAll(): void {
    for (const tunnel of [...this.tunnels.values()]) this.release(tunnel);
  }

  private sweepTombstones(): void {
    const now = Date.now();
    for (const [id, expiry] of this.tombstones) if (expiry <= now) this.tombstones.delete(id);
  }
}

/**
 * dialPort connects to a port inside the sandbox within one overall timeout: 127.0.0.1 first
 * (what almost every server accepts), then the other addresses from dialAddresses. Reading
 * /proc/net is left for that fallback because it costs milliseconds on a busy machine.
 * FAILED_PRECONDITION (reason PORT_CLOSED) when none accepts.
 */
export async function dialPort(
  port: number,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<{ socket: net.Socket; remoteAddress: string }> {
  const dialed = await connectAny(port, Date.now() + timeoutMs, signal);
  if (dialed !== undefined) {
    const { socket, host } = dialed;
    return { socket, remoteAddress: net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}` };
  }
  throw failedPrecondition("PORT_CLOSED", `nothing accepts connections on port ${port}`, {
    port: String(port),
  });
}

/** connectAny tries the port's addresses in order until one accepts or the deadline passes. */
async function connectAny(
  port: number,
  deadline: number,
  signal?: AbortSignal,
): Promise<{ socket: net.Socket; host: string } | undefined> {
  let hosts = ["127.0.0.1"];
  for (let i = 0; i < hosts.length; i++) {
    const host = hosts[i] as string;
    const remaining = deadline - Date.now();
    if (remaining <= 0 || signal?.aborted) return undefined;
    const socket = await tryConnect(host, port, remaining, signal);
    if (socket !== undefined) return { socket, host };
    if (i === 0)
      hosts = [host, ...dialAddresses(port, readListeningSockets()).filter((h) => h !== host)];
  }
  return undefined;
}

/** tryConnect resolves with a connected socket, or undefined on refusal, timeout or abort. */
function tryConnect(
  host: string,
  port: number,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<net.Socket | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port, allowHalfOpen: true });
    const fail = () => {
      cleanup();
      socket.destroy();
      resolve(undefined);
    };
    const timer = setTimeout(fail, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      socket.off("error", fail);
      signal?.removeEventListener("abort", fail);
    };
    socket.once("error", fail);
    signal?.addEventListener("abort", fail, { once: true });
    socket.once("connect", () => {
      cleanup();
      // Until the Tunnel takes over, an early error must not go unhandled.
      socket.on("error", () => {});
      socket.setNoDelay(true);
      resolve(socket);
    });
  });
}

/**
 * waitForPort resolves once a TCP connection to the port succeeds (tried every 100 ms), with
 * the listener from /proc when it can be matched. DEADLINE_EXCEEDED (reason PORT_CLOSED) when
 * the timeout elapses or the call is cancelled first.
 */
export async function waitForPort(
  port: number,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<ListeningSocket | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // Each attempt gets 0.1 to 1 s, so a black-holed address cannot eat the whole wait and a
    // zero timeout still makes one attempt.
    const attemptMs = Math.min(1_000, Math.max(100, deadline - Date.now()));
    const dialed = await connectAny(port, Date.now() + attemptMs, signal);
    if (dialed !== undefined) {
      dialed.socket.destroy();
      const listeners = (await listListeningPorts()).filter((s) => s.port === port);
      return listeners.find((s) => dialAddresses(port, [s])[0] === dialed.host) ?? listeners[0];
    }
    const remaining = deadline - Date.now();
    if (remaining <= 0 || signal.aborted) {
      throw new CoveError(
        "deadlineExceeded",
        "PORT_CLOSED",
        `port ${port} did not accept connections in time`,
        {
          port: String(port),
          timeout: `${timeoutMs / 1000}s`,
        },
      );
    }
    await pause(Math.min(WAIT_FOR_PORT_POLL_MS, remaining), signal);
  }
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** newTunnelId returns "tun_" and 22 random base62 characters. */
export function newTunnelId(): string {
  let id = "tun_";
  while (id.length < 26) {
    for (const byte of crypto.randomBytes(32)) {
      if (byte < 248 && id.length < 26) id += BASE62[byte % 62];
    }
  }
  return id;
}
