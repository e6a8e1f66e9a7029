// A recording proxy in front of the Docker engine for tests: a unix socket that forwards every
// request (and upgraded connection) to /var/run/docker.sock and remembers each request line, so
// a test can assert what reached the engine's URL paths. Point a runner at it with
// DOCKER_HOST=unix://<path>.
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";

/** One request the engine was sent. */
export interface EngineRequest {
  /** HTTP method. */
  method: string;
  /** The request target as sent (path and query, still percent-encoded). */
  url: string;
}

/** A running recorder. */
export interface DockerRecorder {
  /** The recorder's unix socket. */
  socketPath: string;
  /** DOCKER_HOST for clients that should go through it. */
  dockerHost: string;
  /** Every request so far, in order. */
  readonly requests: readonly EngineRequest[];
  /** close stops listening and cuts forwarded connections. */
  close(): Promise<void>;
}

/** startDockerRecorder listens on a fresh socket and forwards to `engineSocket`. */
export async function startDockerRecorder(
  engineSocket = "/var/run/docker.sock",
): Promise<DockerRecorder> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cove-docker-rec-"));
  const socketPath = path.join(dir, "docker.sock");
  const requests: EngineRequest[] = [];
  const open = new Set<net.Socket>();
  const agent = new http.Agent({ keepAlive: true });
  const server = http.createServer((req, res) => {
    requests.push({ method: req.method ?? "", url: req.url ?? "" });
    const upstream = http.request(
      {
        socketPath: engineSocket,
        method: req.method,
        path: req.url,
        headers: req.headers,
        agent,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        answer.on("error", () => res.destroy());
      },
    );
    upstream.on("error", () => res.destroy());
    res.on("close", () => upstream.destroy());
    req.pipe(upstream);
  });
  // Hijacked calls (attach, exec start) switch protocols: relay the raw bytes.
  server.on("upgrade", (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    requests.push({ method: req.method ?? "", url: req.url ?? "" });
    socket.on("error", () => {});
    const engine = net.connect(engineSocket, () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2)
        lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      engine.write(`${lines.join("\r\n")}\r\n\r\n`);
      if (head.length > 0) engine.write(head);
      engine.pipe(socket);
      socket.pipe(engine);
    });
    engine.on("error", () => socket.destroy());
    socket.on("close", () => engine.destroy());
  });
  server.on("connection", (socket: net.Socket) => {
    open.add(socket);
    socket.on("close", () => open.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return {
    socketPath,
    dockerHost: `unix://${socketPath}`,
    requests,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of open) socket.destroy();
      agent.destroy();
      await closed;
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
