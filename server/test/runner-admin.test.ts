// RunnerAdminService on a real server and Postgres: registration with a token shown once
// (only its sha256 stored), get/list with paging and filters, drain/undrain, delete refused
// while sandboxes remain, operator principals only; and verifyRunnerToken for the auth
// interceptor.
import { createHash } from "node:crypto";
import { toJsonString } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import {
  GetRunnerResponseSchema,
  RunnerAdminService,
} from "@cove/gen-ts/cove/runner/v1/runner_admin_service_pb.js";
import { RunnerState } from "@cove/gen-ts/cove/runner/v1/runner_pb.js";
import { ErrorInfoSchema } from "@cove/gen-ts/google/rpc/error_details_pb.js";
import { verifyRunnerToken } from "../src/domain/runner/tokens.js";
import { createMemorySharedState } from "../src/shared/memory-state.js";
import { createTestDatabase, type TestDatabase } from "./database.js";
import {
  RecordingSink,
  SHARED_TOKEN,
  startPlane,
  startRunner,
  type TestPlane,
} from "./runner-test-kit.js";

let database: TestDatabase;
let plane: TestPlane;

beforeAll(async () => {
  database = await createTestDatabase();
  plane = await startPlane({
    db: database.db,
    sink: new RecordingSink(),
    shared: createMemorySharedState(),
    heartbeatIntervalMs: 250,
  });
});
afterAll(async () => {
  await plane.kill();
  await database.drop();
});

function admin(header: "x-test-operator" | "x-test-user" | undefined = "x-test-operator") {
  return createClient(
    RunnerAdminService,
    createGrpcTransport({
      baseUrl: plane.url,
      interceptors: [
        (next) => (req) => {
          if (header) req.header.set(header, "yes");
          return next(req);
        },
      ],
    }),
  );
}

async function failure(
  promise: Promise<unknown>,
): Promise<{ code: Code; reason: string | undefined }> {
  const err = await promise.then(
    () => {
      throw new Error("expected the call to fail");
    },
    (e: unknown) => ConnectError.from(e),
  );
  return { code: err.code, reason: err.findDetails(ErrorInfoSchema)[0]?.reason };
}

test("CreateRunner returns the token once and stores only its sha256", async () => {
  const res = await admin().createRunner({ runnerId: "adm-1", name: "Host one", region: "eu-1" });
  expect(res.runner).toMatchObject({
    runnerId: "adm-1",
    name: "Host one",
    region: "eu-1",
    state: RunnerState.PENDING,
    draining: false,
  });
  expect(res.token.length).toBeGreaterThan(40);
  const row = await database.db("runners").where({ id: "adm-1" }).first();
  expect(row.token_hash).toBe(createHash("sha256").update(res.token).digest("hex"));
  expect(JSON.stringify(row)).not.toContain(res.token);
  const again = await admin().getRunner({ runnerId: "adm-1" });
  expect(toJsonString(GetRunnerResponseSchema, again)).not.toContain(res.token);

  expect(await failure(admin().createRunner({ runnerId: "adm-1" }))).toEqual({
    code: Code.AlreadyExists,
    reason: "RUNNER_ALREADY_EXISTS",
  });
  expect(await failure(admin().createRunner({ runnerId: "Bad_Id" }))).toEqual({
    code: Code.InvalidArgument,
    reason: "INVALID_FIELD",
  });
  // The name defaults to the id.
  expect((await admin().createRunner({ runnerId: "adm-noname" })).runner?.name).toBe("adm-noname");
});

test('verifyRunnerToken: per-runner token → its id, shared token → "", anything else → undefined', async () => {
  const { token } = await admin().createRunner({ runnerId: "adm-tok" });
  expect(await verifyRunnerToken(database.db, token, SHARED_TOKEN)).toBe("adm-tok");
  expect(await verifyRunnerToken(database.db, SHARED_TOKEN, SHARED_TOKEN)).toBe("");
  expect(await verifyRunnerToken(database.db, `${token}x`, SHARED_TOKEN)).toBeUndefined();
  expect(await verifyRunnerToken(database.db, "", SHARED_TOKEN)).toBeUndefined();
  expect(await verifyRunnerToken(database.db, SHARED_TOKEN)).toBeUndefined();
  expect(await verifyRunnerToken(database.db, "", "")).toBeUndefined();
  await admin().deleteRunner({ runnerId: "adm-tok" });
  expect(await verifyRunnerToken(database.db, token, SHARED_TOKEN)).toBeUndefined();
});

test("GetRunner and ListRunners page by id with filters", async () => {
  expect(await failure(admin().getRunner({ runnerId: "nobody" }))).toEqual({
    code: Code.NotFound,
    reason: "RUNNER_NOT_FOUND",
  });
  for (const id of ["list-a", "list-b", "list-c", "list-d", "list-e"])
    await admin().createRunner({ runnerId: id, region: id === "list-e" ? "us-1" : "eu-9" });

  const seen: string[] = [];
  let pageToken = "";
  for (let i = 0; i < 10; i++) {
    const page = await admin().listRunners({ pageSize: 2, pageToken, region: "eu-9" });
    expect(page.runners.length).toBeLessThanOrEqual(2);
    seen.push(...page.runners.map((r) => r.runnerId));
    pageToken = page.nextPageToken;
    if (!pageToken) break;
  }
  expect(seen).toEqual(["list-a", "list-b", "list-c", "list-d"]);

  const pending = await admin().listRunners({ states: [RunnerState.CONNECTED] });
  expect(pending.runners.map((r) => r.runnerId)).not.toContain("list-a");
  expect(await failure(admin().listRunners({ pageToken: "garbage!" }))).toEqual({
    code: Code.InvalidArgument,
    reason: "INVALID_FIELD",
  });
});

test("DrainRunner and UndrainRunner toggle placement", async () => {
  await admin().createRunner({ runnerId: "drain-1" });
  expect((await admin().drainRunner({ runnerId: "drain-1" })).runner?.draining).toBe(true);
  expect((await admin().drainRunner({ runnerId: "drain-1" })).runner?.draining).toBe(true);
  expect((await database.db("runners").where({ id: "drain-1" }).first()).draining).toBe(true);
  expect((await admin().undrainRunner({ runnerId: "drain-1" })).runner?.draining).toBe(false);
  expect(await failure(admin().drainRunner({ runnerId: "nobody" }))).toEqual({
    code: Code.NotFound,
    reason: "RUNNER_NOT_FOUND",
  });
});

test("DeleteRunner is refused while the runner is connected or holds sandboxes", async () => {
  const { token } = await admin().createRunner({ runnerId: "del-1" });
  await database.db("organizations").insert({ id: "org_del", name: "del" });
  await database.db("sandboxes").insert([
    {
      id: "sbxdel1",
      organization_id: "org_del",
      runner_id: "del-1",
      image: "img",
      state: "STARTED",
      desired_state: "STARTED",
      cpu_millicores: 1000,
      memory_mib: 512,
      disk_mib: 1024,
    },
    {
      id: "sbxdel2",
      organization_id: "org_del",
      runner_id: "del-1",
      image: "img",
      state: "DESTROYED",
      desired_state: "DESTROYED",
      cpu_millicores: 1000,
      memory_mib: 512,
      disk_mib: 1024,
    },
  ]);
  const got = await admin().getRunner({ runnerId: "del-1" });
  expect(got.runner?.allocated).toMatchObject({
    cpuMillicores: 1000,
    memoryMib: 512,
    diskMib: 1024,
    maxSandboxes: 1,
  });

  const runner = startRunner({ url: plane.url, token, runnerId: "del-1" });
  await runner.stream.connected();
  expect(await failure(admin().deleteRunner({ runnerId: "del-1" }))).toEqual({
    code: Code.FailedPrecondition,
    reason: "RUNNER_NOT_EMPTY",
  });
  await runner.stop();
  await new Promise((r) => setTimeout(r, 200));
  expect(await failure(admin().deleteRunner({ runnerId: "del-1" }))).toEqual({
    code: Code.FailedPrecondition,
    reason: "RUNNER_NOT_EMPTY",
  });

  await database.db("sandboxes").where({ id: "sbxdel1" }).update({ state: "ARCHIVED" });
  await admin().deleteRunner({ runnerId: "del-1" });
  expect(await database.db("runners").where({ id: "del-1" }).first()).toBeUndefined();
  expect((await database.db("sandboxes").where({ id: "sbxdel1" }).first()).runner_id).toBeNull();
  expect(await failure(admin().deleteRunner({ runnerId: "del-1" }))).toEqual({
    code: Code.NotFound,
    reason: "RUNNER_NOT_FOUND",
  });
});

test("only operators may call RunnerAdminService", async () => {
  expect(await failure(admin("x-test-user").listRunners({}))).toEqual({
    code: Code.PermissionDenied,
    reason: "PERMISSION_DENIED",
  });
});
