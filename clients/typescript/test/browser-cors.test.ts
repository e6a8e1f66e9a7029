// What a browser does when a page on another origin uses the web entry (Connect-Web): a CORS
// preflight, then the call with an Origin header — against the real API server and proxy.
// (No browser runs here: this checks the HTTP exchange a browser makes and requires.)
import { SandboxService } from "@cove/gen-ts/cove/sandbox/v1/sandbox_service_pb.js";
import { dockerUnreachableReason } from "../../../daemon/test/docker-images.js";
import { type Stack, startStack } from "../../../test/stack.js";

const unreachable = dockerUnreachableReason();
const describeWithDocker =
  unreachable !== undefined && process.env.COVE_REQUIRE_DOCKER !== "1" ? describe.skip : describe;
const origin = "http://app.example.test";

describeWithDocker("browser access (CORS) to the API and the proxy", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ name: "cors" });
  }, 900_000);
  afterAll(() => stack?.stop());

  test("the API answers the preflight and a Connect call from another origin", async () => {
    const url = `${stack.apiUrl}/${SandboxService.typeName}/ListSandboxes`;
    const preflight = await fetch(url, {
      method: "OPTIONS",
      headers: {
        origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization,content-type,connect-protocol-version",
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("*");
    const allowed = (preflight.headers.get("access-control-allow-headers") ?? "").toLowerCase();
    for (const h of [
      "authorization",
      "content-type",
      "connect-protocol-version",
      "cove-sandbox-id",
    ]) {
      expect(allowed).toContain(h);
    }
    const call = await fetch(url, {
      method: "POST",
      headers: {
        origin,
        "content-type": "application/json",
        "connect-protocol-version": "1",
        authorization: `Bearer ${stack.adminKey}`,
      },
      body: "{}",
    });
    expect(call.status).toBe(200);
    expect(call.headers.get("access-control-allow-origin")).toBe("*");
    expect(await call.json()).toEqual(expect.any(Object));
  });

  test("the proxy answers toolbox preflights, but previews get no CORS headers", async () => {
    const toolbox = await fetch(`${stack.proxyUrl}/cove.toolbox.v1.ProcessService/Exec`, {
      method: "OPTIONS",
      headers: {
        origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "cove-sandbox-id",
      },
    });
    expect(toolbox.status).toBe(204);
    expect(toolbox.headers.get("access-control-allow-origin")).toBe("*");
    const preview = await fetch(`${stack.proxyUrl}/preview/nosuchsandbox0000000/8080/`, {
      method: "OPTIONS",
      headers: { origin, "access-control-request-method": "GET" },
    });
    expect(preview.headers.get("access-control-allow-origin")).toBeNull();
  });
});
