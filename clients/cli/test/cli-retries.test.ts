// The CLI's API calls follow the SDK's retry rules: reads survive a passing UNAVAILABLE, calls
// that may have acted are not sent twice.
import { Code, ConnectError } from "@connectrpc/connect";
import { type GrpcServer, startGrpcServer } from "@cove/common";
import { SandboxService } from "@cove/gen-ts/cove/sandbox/v1/sandbox_service_pb.js";
import { createApiClients } from "../src/clients.js";

let server: GrpcServer;
let gets = 0;
let deletes = 0;

beforeAll(async () => {
  server = await startGrpcServer(
    {
      services: [SandboxService],
      routes: (router) =>
        router.service(SandboxService, {
          getSandbox(req) {
            gets++;
            if (gets === 1) throw new ConnectError("restarting", Code.Unavailable);
            return { sandbox: { sandboxId: req.sandboxId } };
          },
          deleteSandbox() {
            deletes++;
            throw new ConnectError("restarting", Code.Unavailable);
          },
        }),
    },
    { host: "127.0.0.1", port: 0 },
  );
});

afterAll(() => server.close());

const clients = () =>
  createApiClients({ apiUrl: server.url, apiKey: "cove_sk_test", file: "/nonexistent" });

test("a read that meets UNAVAILABLE once is retried and answers", async () => {
  const res = await clients().sandboxes.getSandbox({ sandboxId: "sbx-1" });
  expect(res.sandbox?.sandboxId).toBe("sbx-1");
  expect(gets).toBe(2);
});

test("a delete that meets UNAVAILABLE is not sent again, and fails with that code", async () => {
  const err = await clients()
    .sandboxes.deleteSandbox({ sandboxId: "sbx-1" })
    .catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ConnectError);
  expect((err as ConnectError).code).toBe(Code.Unavailable);
  expect(deletes).toBe(1);
});
