// The daemon applies the same request rules as every Cove server: an unknown enum value, in
// binary or as a JSON name, is INVALID_ARGUMENT before any handler runs (it used to reach the
// handler as an open-enum number, or be dropped from JSON).
import * as http2 from "node:http2";
import * as net from "node:net";
import { Code, ConnectError } from "@connectrpc/connect";
import { Signal } from "@cove/gen-ts/cove/toolbox/v1/process_pb.js";
import { ProcessService } from "@cove/gen-ts/cove/toolbox/v1/process_service_pb.js";
import { BadRequestSchema } from "@cove/gen-ts/google/rpc/error_details_pb.js";
import { startTestDaemon, type TestDaemon } from "./harness.js";

let daemon: TestDaemon;
beforeAll(async () => {
  daemon = await startTestDaemon();
});
afterAll(async () => {
  await daemon?.close();
});

/** postJson sends one Connect unary JSON request over HTTP/2 to the daemon's socket. */
function postJson(
  socketPath: string,
  procedure: string,
  body: string,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect("http://daemon.local", {
      createConnection: () => net.connect(socketPath),
    });
    session.on("error", reject);
    const req = session.request({
      ":method": "POST",
      ":path": `/${procedure}`,
      "content-type": "application/json",
    });
    let status = 0;
    let text = "";
    req.on("response", (headers) => {
      status = Number(headers[":status"]);
    });
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => {
      text += chunk;
    });
    req.on("end", () => {
      session.close();
      resolve({ status, text });
    });
    req.on("error", reject);
    req.end(body);
  });
}

test("SendSignal with an unknown signal number is INVALID_ARGUMENT naming the field", async () => {
  const client = daemon.client(ProcessService);
  const err = ConnectError.from(
    await client
      .sendSignal({ process: { selector: { case: "pid", value: 1 } }, signal: 1234 as Signal })
      .catch((e) => e),
  );
  expect(err.code).toBe(Code.InvalidArgument);
  expect(err.findDetails(BadRequestSchema)[0]?.fieldViolations).toEqual([
    expect.objectContaining({ field: "signal", description: "unknown Signal value 1234" }),
  ]);
  // A known signal for a process that does not exist reaches the handler: NotFound.
  const missing = ConnectError.from(
    await client
      .sendSignal({
        process: { selector: { case: "pid", value: 999_999 } },
        signal: Signal.SIGTERM,
      })
      .catch((e) => e),
  );
  expect(missing.code).toBe(Code.NotFound);
});

test("an unknown enum name in Connect JSON is refused, not dropped", async () => {
  const res = await postJson(
    daemon.socketPath,
    "cove.toolbox.v1.ProcessService/SendSignal",
    JSON.stringify({ process: { pid: 1 }, signal: "SIGNAL_BOGUS" }),
  );
  expect(res.status).toBe(400);
  expect(JSON.parse(res.text)).toMatchObject({ code: "invalid_argument" });
  expect(res.text).toContain("SIGNAL_BOGUS");
});
