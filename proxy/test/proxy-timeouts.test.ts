// Slowloris against the proxy's public listener, configured as its main reads the environment:
// a request whose headers never finish, and a connection that sends nothing, are closed once
// COVE_HEADERS_TIMEOUT_MS passes, well before the idle timeout.
import * as net from "node:net";
import { CoveError, createLogger } from "@cove/common";
import { type Proxy as CoveProxy, startProxy } from "../src/app.js";
import { loadProxyConfig } from "../src/config.js";
import type { RouteResolver } from "../src/domain/routes.js";

const resolver: RouteResolver = {
  resolve: () => Promise.reject(new CoveError("notFound", "SANDBOX_NOT_FOUND", "no sandboxes")),
  onInvalidate: () => () => {},
  recordActivity: () => {},
  close: async () => {},
};
let proxy: CoveProxy;

beforeAll(async () => {
  const config = loadProxyConfig({
    COVE_PROXY_TOKEN: "t",
    COVE_PROXY_GATEWAY_TOKEN: "g",
    COVE_HEADERS_TIMEOUT_MS: "1000",
    COVE_IDLE_TIMEOUT_MS: "60000",
  });
  proxy = await startProxy({
    listen: { host: "127.0.0.1", port: 0 },
    edge: resolver,
    gatewayToken: config.gatewayToken,
    previewDomain: config.previewDomain,
    listenTimeouts: config.listenTimeouts,
    logger: createLogger({ level: "silent" }),
  });
});
afterAll(async () => {
  await proxy?.close(100);
});

/** lifetime sends `bytes` and resolves to how long the proxy kept the socket open (Infinity past 10 s). */
async function lifetime(bytes: string): Promise<number> {
  const socket = net.connect(Number(new URL(proxy.url).port), "127.0.0.1");
  socket.on("error", () => {});
  await new Promise((resolve) => socket.once("connect", resolve));
  const started = Date.now();
  if (bytes) socket.write(bytes);
  socket.resume();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(Number.POSITIVE_INFINITY);
    }, 10_000);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve(Date.now() - started);
    });
  });
}

test("a partial request line and headers, then nothing, is closed at the headers timeout", async () => {
  const took = await lifetime("GET /preview/sbx/3000/ HTTP/1.1\r\nHost: localhost\r\nX-A: b");
  expect(took).toBeGreaterThanOrEqual(900);
  expect(took).toBeLessThan(5_000);
});

test("a connection that never sends a byte is closed at the headers timeout", async () => {
  const took = await Promise.all(Array.from({ length: 20 }, () => lifetime("")));
  expect(Math.max(...took)).toBeLessThan(5_000);
});
