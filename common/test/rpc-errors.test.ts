import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { fromBinary } from "@bufbuild/protobuf";
import { ErrorInfoSchema } from "@cove/gen-ts/google/rpc/error_details_pb.js";
import { CoveError } from "../src/errors.js";
import { detectProtocol, respondWithError } from "../src/rpc-errors.js";

let server: http.Server;
let url: string;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const protocol = detectProtocol(req.method, String(req.headers["content-type"] ?? ""));
    const err = new CoveError("permissionDenied", "PERMISSION_DENIED", "not yours: sandbox x", {
      sandboxId: "x",
    });
    respondWithError(req, res, protocol, err);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/cove.toolbox.v1.ProcessService/Exec`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const post = (contentType: string) =>
  fetch(url, { method: "POST", headers: { "content-type": contentType }, body: "{}" });

test("Connect unary: the code's HTTP status and a JSON error with ErrorInfo", async () => {
  const res = await post("application/json");
  expect(res.status).toBe(403);
  const body = (await res.json()) as {
    code: string;
    message: string;
    details: { type: string; value: string }[];
  };
  expect(body).toMatchObject({ code: "permission_denied", message: "not yours: sandbox x" });
  const info = fromBinary(ErrorInfoSchema, Buffer.from(body.details[0]?.value ?? "", "base64"));
  expect(info).toMatchObject({
    reason: "PERMISSION_DENIED",
    domain: "cove.dev",
    metadata: { sandboxId: "x" },
  });
});

test("Connect streaming: HTTP 200 and one end-stream message carrying the error", async () => {
  const res = await post("application/connect+json");
  expect(res.status).toBe(200);
  const bytes = Buffer.from(await res.arrayBuffer());
  expect(bytes[0]).toBe(0b10);
  const end = JSON.parse(bytes.subarray(5, 5 + bytes.readUInt32BE(1)).toString("utf8"));
  expect(end.error).toMatchObject({ code: "permission_denied", message: "not yours: sandbox x" });
});

test("gRPC-Web: the status in the headers, message percent-encoded as the gRPC spec says", async () => {
  const res = await post("application/grpc-web+proto");
  expect(res.status).toBe(200);
  expect(res.headers.get("grpc-status")).toBe("7");
  expect(res.headers.get("grpc-message")).toBe("not yours: sandbox x");
  expect(res.headers.get("grpc-status-details-bin")).toBeTruthy();
});
