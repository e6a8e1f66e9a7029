// A Cove server (the common runtime, SandboxService with no methods implemented) in a process
// of its own, for listen.test.ts: prints its port, and ends only when killed — or when
// something it did not handle ends it.
import { SandboxService } from "@cove/gen-ts/cove/sandbox/v1/sandbox_service_pb.js";
import { startGrpcServer } from "../src/server.js";

const server = await startGrpcServer(
  { services: [SandboxService], routes: (router) => router.service(SandboxService, {}) },
  { port: 0 },
);
process.stdout.write(`${(server.address as { port: number }).port}\n`);
