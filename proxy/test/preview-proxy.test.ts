// The proxy's preview path: an app started inside a (test) sandbox through ProcessService.Start,
// reached by preview host and path, over HTTP and WebSocket, only through the daemon's tunnel.
// Tokens, signed URLs and cookies; nothing Cove-secret ever reaches the app; Host tricks,
// absolute-form targets and CONNECT never make the proxy connect anywhere.
import * as crypto from "node:crypto";
import * as http from "node:http";
import * as net from "node:net";
import { RouteChangeKind } from "@cove/gen-ts/cove/edge/v1/edge_pb.js";
import {
  ALPHA,
  BRAVO,
  ORG_A_KEY,
  ORG_B_KEY,
  PREVIEW_DOMAIN,
  type ProxyEnv,
  startApp,
  startProxyEnv,
  waitFor,
} from "./edge-harness.js";

let env: ProxyEnv;
let alphaPort: number;
let bravoPort: number;
let proxyPort: number;

beforeAll(async () => {
  env = await startProxyEnv();
  [alphaPort, bravoPort] = await Promise.all([
    startApp(env.alpha, env.scratch, "alpha-app"),
    startApp(env.bravo, env.scratch, "bravo-app"),
  ]);
  proxyPort = Number(new URL(env.proxy.url).port);
}, 30_000);

afterAll(async () => {
  await env.close();
});

const hostOf = (sandboxId: string, port: number) => `${port}-${sandboxId}.${PREVIEW_DOMAIN}`;

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  json: () => {
    method: string;
    url: string;
    headers: Record<string, string>;
    bodyLength: number;
    bodySha256: string;
    reason?: string;
    message?: string;
  };
}

/** send makes one HTTP/1.1 request to the proxy with whatever Host it is given. */
function send(
  host: string,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: Buffer | Buffer[] } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: "127.0.0.1",
        port: proxyPort,
        method: options.method ?? "GET",
        path,
        headers: { host, ...options.headers },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const body = Buffer.concat(chunks);
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            json: () => JSON.parse(body.toString()),
          });
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    if (Array.isArray(options.body)) {
      for (const part of options.body) req.write(part);
      req.end();
    } else {
      req.end(options.body);
    }
  });
}

/** previewToken registers a preview token for a sandbox port in the fake edge. */
function previewToken(sandboxId: string, port: number, ttlMs?: number): string {
  const secret = `cvp_${crypto.randomBytes(12).toString("hex")}`;
  env.edge.credentials.set(secret, {
    id: `tok_${secret.slice(4, 12)}`,
    kind: "previewToken",
    organizationId: sandboxId === ALPHA ? "org-a" : "org-b",
    sandboxId,
    port,
    expiresAt: ttlMs === undefined ? undefined : Date.now() + ttlMs,
  });
  return secret;
}

/** Nothing secret may reach the app. */
function expectNoCoveSecrets(seen: Record<string, string>, secrets: string[]) {
  for (const name of Object.keys(seen)) expect(name.startsWith("cove-")).toBe(false);
  const all = JSON.stringify(seen);
  for (const secret of secrets) expect(all).not.toContain(secret);
  expect(all).not.toContain("cove_preview_token");
}

describe("HTTP previews", () => {
  test("a public sandbox's port answers without a credential, with the caller's Host", async () => {
    const res = await send(hostOf(BRAVO, bravoPort), "/hello?x=1");
    expect(res.status).toBe(200);
    const seen = res.json();
    expect(seen.url).toBe("/hello?x=1");
    expect(seen.headers.host).toBe(hostOf(BRAVO, bravoPort));
    expect(seen.headers["x-forwarded-host"]).toBe(hostOf(BRAVO, bravoPort));
    expect(res.headers["set-cookie"]).toEqual(["appcookie=1; Path=/"]);
  });

  test("a private sandbox without a credential is 401 with a clear message (JSON and HTML)", async () => {
    const res = await send(hostOf(ALPHA, alphaPort), "/");
    expect(res.status).toBe(401);
    expect(res.json().reason).toBe("CREDENTIALS_MISSING");
    expect(res.json().message).toContain("private");
    expect(res.json().message).toContain("cove-preview-token");
    const page = await send(hostOf(ALPHA, alphaPort), "/", { headers: { accept: "text/html" } });
    expect(page.status).toBe(401);
    expect(page.headers["content-type"]).toContain("text/html");
    expect(page.body.toString()).toContain("is private");
  });

  test("a preview token in the header opens the port; no Cove secret reaches the app", async () => {
    const token = previewToken(ALPHA, alphaPort);
    const res = await send(hostOf(ALPHA, alphaPort), "/x", {
      headers: {
        "cove-preview-token": token,
        "cove-sandbox-id": ALPHA,
        "cove-gateway-token": "forged",
        cookie: `cove_preview_token=${token}; session=abc`,
        "x-forwarded-for": "6.6.6.6",
      },
    });
    expect(res.status).toBe(200);
    const seen = res.json().headers;
    expectNoCoveSecrets(seen, [token, "forged"]);
    expect(seen.cookie).toBe("session=abc");
    expect(seen["x-forwarded-for"]).toBe("127.0.0.1");
  });

  test("an API key in authorization is a credential and is stripped; the app's own Basic auth passes", async () => {
    const withKey = await send(hostOf(ALPHA, alphaPort), "/", {
      headers: { authorization: `Bearer ${ORG_A_KEY}` },
    });
    expect(withKey.status).toBe(200);
    expect(withKey.json().headers.authorization).toBeUndefined();
    expectNoCoveSecrets(withKey.json().headers, [ORG_A_KEY]);
    const token = previewToken(ALPHA, alphaPort);
    const basic = await send(hostOf(ALPHA, alphaPort), "/", {
      headers: { "cove-preview-token": token, authorization: "Basic dXNlcjpwYXNz" },
    });
    expect(basic.json().headers.authorization).toBe("Basic dXNlcjpwYXNz");
  });

  test("another organization's key is NOT_FOUND; a token bound to another port is 403", async () => {
    const foreign = await send(hostOf(ALPHA, alphaPort), "/", {
      headers: { authorization: `Bearer ${ORG_B_KEY}` },
    });
    expect(foreign.status).toBe(404);
    expect(foreign.json().reason).toBe("SANDBOX_NOT_FOUND");
    const other = previewToken(ALPHA, alphaPort + 1);
    const denied = await send(hostOf(ALPHA, alphaPort), "/", {
      headers: { "cove-preview-token": other },
    });
    expect(denied.status).toBe(403);
  });

  test("a signed URL becomes a host-only cookie and a redirect without the token, until it expires", async () => {
    const token = previewToken(ALPHA, alphaPort, 2_000);
    const host = hostOf(ALPHA, alphaPort);
    const first = await send(host, `/page?a=1&cove_token=${token}&b=%20x`);
    expect(first.status).toBe(302);
    expect(first.headers.location).toBe("/page?a=1&b=%20x");
    const cookie = String(first.headers["set-cookie"]?.[0]);
    expect(cookie).toMatch(/^cove_preview_token=cvp_[0-9a-f]+; /);
    expect(cookie).toContain("HttpOnly");
    expect(cookie).toContain("SameSite=Lax");
    expect(cookie).toContain("Path=/");
    expect(cookie.toLowerCase()).not.toContain("domain=");
    expect(cookie).not.toContain("Secure"); // no TLS here
    const pair = cookie.split(";")[0] ?? "";
    const second = await send(host, "/page?a=1&b=%20x", {
      headers: { cookie: `${pair}; theme=dark` },
    });
    expect(second.status).toBe(200);
    expect(second.json().url).toBe("/page?a=1&b=%20x");
    expect(second.json().headers.cookie).toBe("theme=dark");
    expectNoCoveSecrets(second.json().headers, [token]);
    // The answer is cached, but never past the token's expiry.
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    const expired = await send(host, "/page", { headers: { cookie: pair } });
    expect(expired.status).toBe(401);
    expect(expired.json().reason).toBe("TOKEN_EXPIRED");
    expect(String(expired.headers["set-cookie"]?.[0])).toContain("Max-Age=0");
  });

  test("the cookie is refused for requests from a foreign Origin", async () => {
    const token = previewToken(ALPHA, alphaPort);
    const host = hostOf(ALPHA, alphaPort);
    const cookie = `cove_preview_token=${token}`;
    const foreign = await send(host, "/", {
      method: "POST",
      headers: { cookie, origin: "https://evil.example" },
    });
    expect(foreign.status).toBe(403);
    const sibling = await send(host, "/", {
      method: "POST",
      headers: { cookie, origin: `http://${hostOf(ALPHA, 5173)}` },
    });
    expect(sibling.status).toBe(200);
  });

  test("a closed port is a clear 502 saying nothing listens, not a bare 502", async () => {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", () => resolve()));
    const closedPort = (probe.address() as net.AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const res = await send(hostOf(BRAVO, closedPort), "/");
    expect(res.status).toBe(502);
    expect(res.json().reason).toBe("PORT_CLOSED");
    expect(res.json().message).toContain(`port ${closedPort}`);
    expect(res.json().message).toContain("not listening");
    const page = await send(hostOf(BRAVO, closedPort), "/", { headers: { accept: "text/html" } });
    expect(page.body.toString()).toContain("Nothing is listening on this port");
  });

  test("request bodies arrive intact, with Content-Length and chunked", async () => {
    const body = crypto.randomBytes(1024 * 1024 + 3);
    const sha = crypto.createHash("sha256").update(body).digest("hex");
    const sized = await send(hostOf(BRAVO, bravoPort), "/upload", { method: "POST", body });
    expect(sized.json()).toMatchObject({
      method: "POST",
      bodyLength: body.length,
      bodySha256: sha,
    });
    const chunked = await send(hostOf(BRAVO, bravoPort), "/upload", {
      method: "PUT",
      headers: { "transfer-encoding": "chunked" },
      body: [body.subarray(0, 1000), body.subarray(1000)],
    });
    expect(chunked.json()).toMatchObject({
      method: "PUT",
      bodyLength: body.length,
      bodySha256: sha,
    });
  });

  test("the path form /preview/<id>/<port>/ reaches the same app", async () => {
    const res = await send(
      `127.0.0.1:${proxyPort}`,
      `/preview/${BRAVO}/${bravoPort}/deep/path?q=1`,
    );
    expect(res.status).toBe(200);
    expect(res.json().url).toBe("/deep/path?q=1");
    expect(res.json().headers["x-forwarded-prefix"]).toBe(`/preview/${BRAVO}/${bravoPort}`);
  });

  test("previews are reported as activity", async () => {
    await send(hostOf(BRAVO, bravoPort), "/");
    const since = Date.now() - 1_000;
    await waitFor(() =>
      env.edge.activity.some((a) => a.sandboxId === BRAVO && a.at >= since - 1_000),
    );
  });
});

/** A minimal WebSocket client: handshake, one masked text frame out, one frame back. */
async function websocket(host: string, path: string, headers: Record<string, string> = {}) {
  const socket = net.connect(proxyPort, "127.0.0.1");
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  const key = crypto.randomBytes(16).toString("base64");
  const lines = [
    `GET ${path} HTTP/1.1`,
    `Host: ${host}`,
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Key: ${key}`,
    "Sec-WebSocket-Version: 13",
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ];
  socket.write(`${lines.join("\r\n")}\r\n\r\n`);
  let buffer = Buffer.alloc(0);
  const more = () =>
    new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        buffer = Buffer.concat([buffer, chunk]);
        cleanup();
        resolve();
      };
      const onEnd = () => {
        cleanup();
        reject(new Error("the connection closed"));
      };
      const cleanup = () => {
        socket.off("data", onData);
        socket.off("end", onEnd);
      };
      socket.on("data", onData);
      socket.on("end", onEnd);
    });
  while (buffer.indexOf("\r\n\r\n") < 0) await more();
  const end = buffer.indexOf("\r\n\r\n");
  const head = buffer.subarray(0, end).toString();
  buffer = buffer.subarray(end + 4);
  const status = Number(head.split(" ")[1]);
  const accept = crypto
    .createHash("sha1")
    .update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
    .digest("base64");
  return {
    status,
    head,
    body: async () => {
      while (!socket.readableEnded) {
        try {
          await more();
        } catch {
          break;
        }
      }
      return buffer.toString();
    },
    acceptOk: head.toLowerCase().includes(`sec-websocket-accept: ${accept.toLowerCase()}`),
    async echo(text: string): Promise<string> {
      const payload = Buffer.from(text);
      const mask = crypto.randomBytes(4);
      const masked = Buffer.from(payload.map((b, i) => b ^ (mask[i % 4] ?? 0)));
      socket.write(Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]));
      while (buffer.length < 2 || buffer.length < 2 + ((buffer[1] ?? 0) & 0x7f)) await more();
      const length = (buffer[1] ?? 0) & 0x7f;
      const out = buffer.subarray(2, 2 + length).toString();
      buffer = buffer.subarray(2 + length);
      return out;
    },
    socket,
  };
}

describe("WebSocket previews", () => {
  test("a public sandbox's WebSocket echoes through the tunnel", async () => {
    const ws = await websocket(hostOf(BRAVO, bravoPort), "/ws?room=1");
    try {
      expect(ws.status).toBe(101);
      expect(ws.acceptOk).toBe(true);
      expect(await ws.echo("hello")).toBe("hello");
      expect(await ws.echo("again")).toBe("again");
    } finally {
      ws.socket.destroy();
    }
  });

  test("a private sandbox: refused without a token, open with the cookie; the app sees no secret", async () => {
    const refused = await websocket(hostOf(ALPHA, alphaPort), "/ws");
    expect(refused.status).toBe(401);
    expect(await refused.body()).toContain("CREDENTIALS_MISSING");
    const token = previewToken(ALPHA, alphaPort);
    const ws = await websocket(hostOf(ALPHA, alphaPort), "/ws", {
      Cookie: `cove_preview_token=${token}; app=1`,
      Origin: `http://${hostOf(ALPHA, alphaPort)}`,
    });
    try {
      expect(ws.status).toBe(101);
      const seenLine = ws.head
        .split("\r\n")
        .find((line) => line.toLowerCase().startsWith("x-seen:"));
      const seen = JSON.parse(Buffer.from(seenLine?.slice(7).trim() ?? "", "base64").toString());
      expectNoCoveSecrets(seen.headers, [token]);
      expect(seen.headers.cookie).toBe("app=1");
      expect(await ws.echo("private")).toBe("private");
    } finally {
      ws.socket.destroy();
    }
  });

  test("the cookie is refused for a WebSocket from a foreign Origin", async () => {
    const token = previewToken(ALPHA, alphaPort);
    const ws = await websocket(hostOf(ALPHA, alphaPort), "/ws", {
      Cookie: `cove_preview_token=${token}`,
      Origin: "https://evil.example",
    });
    expect(ws.status).toBe(403);
    ws.socket.destroy();
  });

  test("revoking the credential closes the open WebSocket", async () => {
    const token = previewToken(ALPHA, alphaPort);
    const ws = await websocket(hostOf(ALPHA, alphaPort), "/ws", { "cove-preview-token": token });
    expect(ws.status).toBe(101);
    expect(await ws.echo("before")).toBe("before");
    const closed = new Promise<void>((resolve) => ws.socket.once("close", () => resolve()));
    env.edge.invalidate({
      kind: RouteChangeKind.CREDENTIAL_REVOKED,
      credentialId: env.edge.credentials.get(token)?.id ?? "",
    });
    await closed;
  });
});

describe("nothing a request names is ever dialed", () => {
  let listener: net.Server;
  let connections = 0;
  let listenerPort: number;

  beforeAll(async () => {
    listener = net.createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", () => resolve()));
    listenerPort = (listener.address() as net.AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise((resolve) => listener.close(resolve));
  });

  /** raw sends bytes to the proxy and returns its whole answer. */
  async function raw(request: string): Promise<string> {
    const socket = net.connect(proxyPort, "127.0.0.1");
    const chunks: Buffer[] = [];
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.write(request);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => socket.destroy(), 2_000);
      socket.on("close", () => {
        clearTimeout(timer);
        resolve();
      });
      socket.on("error", () => {});
    });
    return Buffer.concat(chunks).toString();
  }

  test.each([
    ["127.0.0.1", () => `127.0.0.1:${listenerPort}`],
    ["localhost", () => `localhost:${listenerPort}`],
    ["decimal", () => `2130706433:${listenerPort}`],
    ["hex", () => `0x7f000001:${listenerPort}`],
    ["IPv6 loopback", () => `[::1]:${listenerPort}`],
    ["a preview-looking host under another domain", () => `${listenerPort}-${BRAVO}.evil.example`],
  ])("Host %s is not a preview and is not dialed", async (_name, host) => {
    const answer = await raw(`GET / HTTP/1.1\r\nHost: ${host()}\r\nConnection: close\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1\.1 404/); // an unknown RPC path, answered by the proxy itself
    expect(connections).toBe(0);
  });

  test("an absolute-form target for a non-preview host is 400", async () => {
    const answer = await raw(
      `GET http://127.0.0.1:${listenerPort}/ HTTP/1.1\r\nHost: 127.0.0.1:${listenerPort}\r\nConnection: close\r\n\r\n`,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 400/);
    expect(connections).toBe(0);
  });

  test("an absolute-form target for a preview host goes to the preview, never to Host", async () => {
    const answer = await raw(
      `GET http://${hostOf(BRAVO, bravoPort)}/abs HTTP/1.1\r\nHost: 127.0.0.1:${listenerPort}\r\nConnection: close\r\n\r\n`,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
    expect(answer).toContain('"url":"/abs"');
    expect(connections).toBe(0);
  });

  test("CONNECT is 400", async () => {
    const answer = await raw(
      `CONNECT 127.0.0.1:${listenerPort} HTTP/1.1\r\nHost: 127.0.0.1:${listenerPort}\r\n\r\n`,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 400/);
    expect(connections).toBe(0);
  });

  test("a WebSocket upgrade for a non-preview host is 400", async () => {
    const ws = await websocket(`127.0.0.1:${listenerPort}`, "/");
    expect(ws.status).toBe(400);
    ws.socket.destroy();
    expect(connections).toBe(0);
  });

  test("an app's redirect to the listener is passed to the caller, not followed", async () => {
    const res = await send(
      hostOf(BRAVO, bravoPort),
      `/redirect?to=http://127.0.0.1:${listenerPort}/`,
    );
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe(`http://127.0.0.1:${listenerPort}/`);
    expect(connections).toBe(0);
  });

  test("request smuggling: Content-Length with Transfer-Encoding is refused before the app", async () => {
    const answer = await raw(
      `POST / HTTP/1.1\r\nHost: ${hostOf(BRAVO, bravoPort)}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: ${hostOf(BRAVO, bravoPort)}\r\n\r\n`,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 400/);
    expect(answer).not.toContain("/smuggled");
  });
});
