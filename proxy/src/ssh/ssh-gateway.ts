import type { AddressInfo } from "node:net";
import * as net from "node:net";
import type { Logger } from "@cove/common";
import ssh2, { type AuthContext, type Connection } from "ssh2";
import type { Route, RouteResolver } from "../domain/routes.js";
import { createAuthThrottle } from "./auth-throttle.js";
import { loadOrCreateHostKey } from "./host-key.js";
import { createGatewayConnections, type SandboxClients } from "./sandbox-clients.js";
import { handleSession, type SessionHandle } from "./ssh-session.js";

/** Limits of the SSH gateway; every one has a default. */
export interface SshGatewayLimits {
  /** TCP connections open at once; more are closed on arrival. Default 1024. */
  maxConnections: number;
  /** Session channels open at once on one connection (shell, exec, sftp). Default 10. */
  maxSessionsPerConnection: number;
  /** Session channels open at once across the gateway. Default 4096. */
  maxChannels: number;
  /** A connection must authenticate within this many ms of connecting. Default 30 s. */
  authTimeoutMs: number;
  /** Authentication requests per connection before it is dropped. Default 6. */
  maxAuthAttempts: number;
  /** Failed logins per client address per window before that address is refused. Default 20. */
  maxAuthFailuresPerIp: number;
  /** The window of maxAuthFailuresPerIp, in ms. Default 60 s. */
  authFailureWindowMs: number;
  /** A connection with no channel traffic for this long is closed. Default 30 min. */
  idleTimeoutMs: number;
  /** Variables a session may set with `env` requests. Default 64. */
  maxEnvVars: number;
  /** Open SFTP handles per SFTP session. Default 64. */
  maxSftpHandles: number;
}

/** The limits startSshGateway uses for whatever options.limits leaves out. */
export const defaultSshLimits: SshGatewayLimits = {
  maxConnections: 1024,
  maxSessionsPerConnection: 10,
  maxChannels: 4096,
  authTimeoutMs: 30_000,
  maxAuthAttempts: 6,
  maxAuthFailuresPerIp: 20,
  authFailureWindowMs: 60_000,
  idleTimeoutMs: 30 * 60_000,
  maxEnvVars: 64,
  maxSftpHandles: 64,
};

/** Options for startSshGateway. */
export interface SshGatewayOptions {
  /** Where to listen; port 0 picks a free port. The proxy's default is 0.0.0.0:2222. */
  listen: { host?: string; port: number };
  /** The host key file: read if present, else an ed25519 key is generated there (mode 0600). */
  hostKeyPath: string;
  /** Answers which sandbox an SSH token opens (access "ssh") and tells of revocations. */
  resolver: RouteResolver;
  /** The shared secret for the runners' toolbox gateways (header cove-gateway-token). */
  gatewayToken: string;
  /** Where the gateway logs. */
  logger: Logger;
  /** Limits; unset fields take defaultSshLimits. */
  limits?: Partial<SshGatewayLimits>;
}

/** A running SSH gateway. */
export interface SshGateway {
  /** The port it listens on. */
  readonly port: number;
  /** The number of authenticated connections open now. */
  connectionCount(): number;
  /** close stops listening and ends every connection. */
  close(): Promise<void>;
}

/** Auth methods whose only credential is the username (the token); the password is ignored. */
const TOKEN_METHODS = new Set(["none", "password", "keyboard-interactive"]);
/** What a refused client is told it may try; nothing about why it was refused. */
const METHODS_LEFT: AuthContext["method"][] = ["password", "keyboard-interactive"];
/** Tokens are short printable strings; anything else is refused without asking the server. */
const TOKEN_SHAPE = /^[\x21-\x7e]{1,512}$/;
/** How often activity is reported per connection, at most, for auto-stop. */
const ACTIVITY_EVERY_MS = 30_000;

/** One SSH connection, once authenticated. */
interface LiveConnection {
  client: Connection;
  route: Route;
  sessions: Set<SessionHandle>;
  end(reason: string): void;
}

/**
 * startSshGateway serves `ssh <token>@host -p 2222`: the SSH username is a short-lived access
 * token that the resolver turns into a sandbox route; shells, commands and SFTP then run in
 * that sandbox through its runner's toolbox gateway. Port forwarding, agent and X11 requests
 * are refused. Connections end when the resolver invalidates their sandbox or token.
 */
export async function startSshGateway(options: SshGatewayOptions): Promise<SshGateway> {
  const limits: SshGatewayLimits = { ...defaultSshLimits, ...options.limits };
  const logger = options.logger;
  const hostKey = loadOrCreateHostKey(options.hostKeyPath, logger);
  const throttle = createAuthThrottle({
    maxFailures: limits.maxAuthFailuresPerIp,
    windowMs: limits.authFailureWindowMs,
  });
  const gateways = createGatewayConnections(options.gatewayToken);
  const live = new Set<LiveConnection>();
  const clients = new Set<Connection>();
  let channels = 0;

  const unsubscribe = options.resolver.onInvalidate((change) => {
    for (const conn of live) {
      const route = conn.route;
      const matches =
        (change.sandboxId !== "" && change.sandboxId === route.sandboxId) ||
        (change.credentialId !== "" && change.credentialId === route.credentialId) ||
        (change.sandboxId === "" &&
          change.credentialId === "" &&
          change.runnerId !== "" &&
          change.runnerId === route.runnerId);
      if (matches) conn.end("access to this sandbox was revoked or the sandbox stopped");
    }
  });

  const onConnection = (client: Connection, info: { ip: string; port: number }) => {
    const ip = info.ip ?? "";
    const log = logger.child({ clientIp: ip });
    const socketKey = `${ip}:${info.port}`;
    clients.add(client);
    let route: Route | undefined;
    let acceptedToken = "";
    let conn: LiveConnection | undefined;
    let attempts = 0;
    let lastActivity = Date.now();
    let lastReported = 0;
    /** The resolver's answer per token, so one client's none/password/keyboard tries ask once. */
    const answers = new Map<string, Promise<Route | undefined>>();

    let idleTimer: NodeJS.Timeout | undefined;
    const connectionClosed = new AbortController();

    const resolveToken = (token: string): Promise<Route | undefined> => {
      let answer = answers.get(token);
      if (answer === undefined) {
        answer = options.resolver
          .resolve({
            sandboxId: "",
            access: "ssh",
            port: 0,
            credential: { kind: "sshToken", secret: token },
            clientIp: ip,
          })
          .then(
            (resolved) => (resolved.sandboxId === "" ? undefined : resolved),
            (err: unknown) => {
              log.info("ssh login refused", { reason: (err as { reason?: string }).reason, err });
              return undefined;
            },
          )
          .then((resolved) => {
            if (resolved === undefined) throttle.recordFailure(ip);
            return resolved;
          });
        answers.set(token, answer);
      }
      return answer;
    };

    client.on("authentication", (ctx: AuthContext) => {
      attempts += 1;
      if (attempts > limits.maxAuthAttempts) {
        ctx.reject();
        client.end();
        return;
      }
      if (!TOKEN_METHODS.has(ctx.method)) {
        ctx.reject(METHODS_LEFT);
        return;
      }
      if (throttle.blocked(ip)) {
        log.warn("ssh login refused: too many failures from this address");
        ctx.reject(METHODS_LEFT);
        client.end();
        return;
      }
      const token = ctx.username;
      if (!TOKEN_SHAPE.test(token)) {
        throttle.recordFailure(ip);
        ctx.reject(METHODS_LEFT);
        return;
      }
      void resolveToken(token).then((resolved) => {
        if (resolved === undefined) {
          ctx.reject(METHODS_LEFT);
          return;
        }
        route = resolved;
        acceptedToken = token;
        ctx.accept();
      });
    });

    client.on("ready", () => {
      clearTimeout(authTimers.get(socketKey));
      authTimers.delete(socketKey);
      const authed = route;
      if (authed === undefined) {
        client.end();
        return;
      }
      log.info("ssh connection authenticated", {
        sandboxId: authed.sandboxId,
        credentialId: authed.credentialId,
      });
      const connection: LiveConnection = {
        client,
        route: authed,
        sessions: new Set(),
        end(reason) {
          log.info("ssh connection ended", { sandboxId: authed.sandboxId, reason });
          for (const session of this.sessions) session.notify(`cove: ${reason}`);
          client.end();
        },
      };
      conn = connection;
      live.add(connection);
      let clients: SandboxClients = gateways.clientsFor(authed.gatewayUrl, authed.sandboxId);

      const touch = () => {
        const now = Date.now();
        lastActivity = now;
        if (now - lastReported >= ACTIVITY_EVERY_MS) {
          lastReported = now;
          options.resolver.recordActivity(connection.route.sandboxId);
        }
      };
      touch();
      const idleCheck = Math.max(50, Math.min(limits.idleTimeoutMs / 4, 30_000));
      idleTimer = setInterval(() => {
        if (Date.now() - lastActivity >= limits.idleTimeoutMs) connection.end("idle timeout");
      }, idleCheck);

      /** refreshRoute asks the resolver again once the route's cache time has passed. */
      const refreshRoute = async (): Promise<boolean> => {
        if (Date.now() < connection.route.expiresAt) return true;
        try {
          const fresh = await options.resolver.resolve({
            sandboxId: "",
            access: "ssh",
            port: 0,
            credential: { kind: "sshToken", secret: acceptedToken },
            clientIp: ip,
          });
          if (fresh.sandboxId !== authed.sandboxId) return false;
          if (fresh.gatewayUrl !== connection.route.gatewayUrl) {
            clients = gateways.clientsFor(fresh.gatewayUrl, fresh.sandboxId);
          }
          connection.route = fresh;
          return true;
        } catch (err) {
          log.info("ssh channel refused: the token no longer resolves", { err });
          return false;
        }
      };

      client.on("session", (accept, reject) => {
        if (
          connection.sessions.size >= limits.maxSessionsPerConnection ||
          channels >= limits.maxChannels
        ) {
          log.warn("ssh session refused: channel limit", {
            open: connection.sessions.size,
            limit: limits.maxSessionsPerConnection,
          });
          reject();
          return;
        }
        channels += 1;
        const release = () => {
          channels -= 1;
        };
        void refreshRoute().then((ok) => {
          if (!ok) {
            release();
            reject();
            return;
          }
          touch();
          const session = handleSession(accept, {
            clients,
            osUser: connection.route.osUser,
            logger: log.child({ sandboxId: connection.route.sandboxId }),
            touch,
            maxEnvVars: limits.maxEnvVars,
            maxSftpHandles: limits.maxSftpHandles,
            connectionClosed: connectionClosed.signal,
          });
          connection.sessions.add(session);
          void session.closed.then(() => {
            connection.sessions.delete(session);
            release();
          });
        });
      });
      client.on("request", (_accept, reject, name) => {
        log.info("ssh global request refused", { name });
        reject?.();
      });
      // direct-tcpip, direct-streamlocal, x11 and agent requests have no handler: ssh2 refuses
      // them (channel open "administratively prohibited", request failure).
    });

    client.on("error", (err: Error) => {
      log.debug("ssh connection error", { err: err.message });
    });
    client.on("close", () => {
      connectionClosed.abort();
      clearInterval(idleTimer);
      clients.delete(client);
      if (conn !== undefined) live.delete(conn);
    });
  };

  const sshServer = new ssh2.Server(
    { hostKeys: [hostKey], ident: "Cove", keepaliveInterval: 15_000, keepaliveCountMax: 3 },
    onConnection,
  );
  sshServer.on("error", (err: Error) => logger.error("ssh gateway error", { err }));
  // The gateway owns the listening socket so that limits apply from the first byte: ssh2 only
  // reports a connection once the client has sent its version line.
  const openSockets = new Set<net.Socket>();
  const authTimers = new Map<string, NodeJS.Timeout>();
  const server = net.createServer((socket) => {
    if (openSockets.size >= limits.maxConnections) {
      logger.warn("ssh connection refused: too many connections", {
        clientIp: socket.remoteAddress,
        limit: limits.maxConnections,
      });
      socket.destroy();
      return;
    }
    openSockets.add(socket);
    const key = `${socket.remoteAddress}:${socket.remotePort}`;
    const timer = setTimeout(() => {
      logger.info("ssh connection dropped: no authentication in time", {
        clientIp: socket.remoteAddress,
      });
      socket.destroy();
    }, limits.authTimeoutMs);
    authTimers.set(key, timer);
    socket.once("close", () => {
      openSockets.delete(socket);
      clearTimeout(timer);
      authTimers.delete(key);
    });
    sshServer.injectSocket(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.listen.port, options.listen.host ?? "0.0.0.0", () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", (err: Error) => logger.error("ssh gateway listener error", { err }));
  const port = (server.address() as AddressInfo).port;
  logger.info("ssh gateway listening", { port });

  return {
    port,
    connectionCount: () => live.size,
    async close() {
      unsubscribe();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const client of clients) client.end();
      for (const socket of openSockets) socket.destroy();
      gateways.close();
      await closed;
    },
  };
}
