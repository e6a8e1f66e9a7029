// Previews through the whole stack: a web server started in a real sandbox (Docker) is
// reached through the proxy with the preview URL the API server issues — refused without its
// token, reachable with the token or the signed URL, and the server never sees Cove secrets.
import * as http from "node:http";
import { createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { SandboxService } from "@cove/gen-ts/cove/sandbox/v1/sandbox_service_pb.js";
import { PortService } from "@cove/gen-ts/cove/toolbox/v1/port_service_pb.js";
import { ProcessService } from "@cove/gen-ts/cove/toolbox/v1/process_service_pb.js";
import { dockerUnreachableReason } from "../../daemon/test/docker-images.js";
import { type Stack, startStack } from "../../test/stack.js";

const unreachable = dockerUnreachableReason();
const describeWithDocker =
  unreachable !== undefined && process.env.COVE_REQUIRE_DOCKER !== "1" ? describe.skip : describe;

/** The app in the sandbox: answers with the request's headers as JSON. */
const APP = `
import http.server, json
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", 8080), H).serve_forever()
`;

/** get sends a GET to the proxy with a chosen Host header (no DNS involved). */
function get(proxyUrl: string, host: string, path: string, headers: Record<string, string> = {}) {
  const url = new URL(proxyUrl);
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>(
    (resolve, reject) => {
      const req = http.request(
        { host: url.hostname, port: url.port, path, method: "GET", headers: { host, ...headers } },
        (res) => {
          let body = "";
          res.setEncoding("utf8");
          res.on("data", (chunk) => {
            body += chunk;
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        },
      );
      req.on("error", reject);
      req.end();
    },
  );
}

describeWithDocker("previews through the whole stack", () => {
  let stack: Stack;
  let sandboxId: string;
  beforeAll(async () => {
    stack = await startStack({ name: "preview" });
  }, 900_000);
  afterAll(() => stack?.stop());

  const bearer = (): Interceptor => (next) => (req) => {
    req.header.set("authorization", `Bearer ${stack.adminKey}`);
    return next(req);
  };

  test("a web server in a private sandbox is reachable only with its preview credentials", async () => {
    const api = createClient(
      SandboxService,
      createGrpcTransport({ baseUrl: stack.apiUrl, interceptors: [bearer()] }),
    );
    const { sandbox } = await api.createSandbox({});
    sandboxId = sandbox?.sandboxId ?? "";
    const toolbox = createClient(
      ProcessService,
      createGrpcTransport({
        baseUrl: stack.proxyUrl,
        interceptors: [
          bearer(),
          (next) => (req) => {
            req.header.set("cove-sandbox-id", sandboxId);
            return next(req);
          },
        ],
      }),
    );
    await toolbox.exec({
      program: { case: "command", value: `cat > /tmp/app.py <<'EOF'\n${APP}\nEOF` },
    });
    const started = toolbox.start({
      program: { case: "command", value: "python3 /tmp/app.py" },
      tag: "web",
    });
    void (async () => {
      for await (const _ of started) {
        // drain: the server runs until the sandbox is deleted
      }
    })().catch(() => {});
    const ports = createClient(
      PortService,
      createGrpcTransport({
        baseUrl: stack.proxyUrl,
        interceptors: [
          bearer(),
          (next) => (req) => {
            req.header.set("cove-sandbox-id", sandboxId);
            return next(req);
          },
        ],
      }),
    );
    const ready = await ports.waitForPort({ port: 8080, timeout: { seconds: 20n, nanos: 0 } });
    expect(ready.port?.port).toBe(8080);

    const preview = await api.createPreviewUrl({ sandboxId, port: 8080 });
    expect(preview.url).toContain(`8080-${sandboxId}`);
    const host = `8080-${sandboxId}.preview.localhost`;

    const refused = await get(stack.proxyUrl, host, "/hello");
    expect(refused.status).toBe(401);

    const withToken = await get(stack.proxyUrl, host, "/hello?x=1", {
      "cove-preview-token": preview.token,
      authorization: `Bearer ${stack.adminKey}`,
      cookie: "app=1",
    });
    expect(withToken.status).toBe(200);
    const seen = JSON.parse(withToken.body) as { path: string; headers: Record<string, string> };
    expect(seen.path).toBe("/hello?x=1");
    expect(seen.headers["cove-preview-token"]).toBeUndefined();
    expect(seen.headers.authorization).toBeUndefined();
    expect(withToken.body).not.toContain(preview.token);
    expect(withToken.body).not.toContain(stack.adminKey);

    const signedPath = new URL(preview.signedUrl).pathname + new URL(preview.signedUrl).search;
    const redirect = await get(stack.proxyUrl, host, signedPath);
    expect(redirect.status).toBe(302);
    const cookie = String(redirect.headers["set-cookie"] ?? "").split(";")[0] ?? "";
    expect(cookie).not.toBe("");
    const viaCookie = await get(stack.proxyUrl, host, "/after-redirect", { cookie });
    expect(viaCookie.status).toBe(200);
    expect(viaCookie.body).not.toContain(preview.token);

    const closedPort = await get(stack.proxyUrl, `8081-${sandboxId}.preview.localhost`, "/", {
      authorization: `Bearer ${stack.adminKey}`,
    });
    expect(closedPort.status).toBe(502);
    expect(closedPort.body).toMatch(/not listening/);
  }, 120_000);
});
