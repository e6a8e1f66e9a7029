// Regression tests for two findings of the security review: an unknown enum name in a Connect
// JSON filter was silently dropped (ListSandboxes {"states": ["SANDBOX_STATE_BOGUS"]} listed
// everything), and an unknown numeric enum value was accepted (ListApiKeys states [99]). Both
// must be INVALID_ARGUMENT with a field violation, on every server.
import { Code, ConnectError } from "@connectrpc/connect";
import { ApiKeyState } from "@cove/gen-ts/cove/iam/v1/api_key_pb.js";
import { SandboxState } from "@cove/gen-ts/cove/sandbox/v1/sandbox_pb.js";
import { BadRequestSchema } from "@cove/gen-ts/google/rpc/error_details_pb.js";
import { createTestDatabase, type TestDatabase } from "./database.js";
import { clientsFor, expectError, type IamServer, seedOrg, startIamServer } from "./iam-harness.js";
import { addRunner, type SandboxEnv, startSandboxEnv } from "./sandbox-harness.js";

const ORG = "org_enums";

let t: TestDatabase;
let iam: IamServer;
let env: SandboxEnv;
beforeAll(async () => {
  t = await createTestDatabase();
  iam = await startIamServer(t.db);
  env = await startSandboxEnv();
  await env.db("organizations").insert({ id: ORG, name: "enums" });
  await addRunner(env.db, "runner-enums");
});
afterAll(async () => {
  await env?.close();
  await iam?.close();
  await t?.drop();
});

/** connectJson posts a Connect unary JSON request over HTTP/1.1 and returns status and body. */
async function connectJson(
  url: string,
  procedure: string,
  body: string,
  headers: Record<string, string> = {},
) {
  const res = await fetch(`${url}/${procedure}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
  });
  return { status: res.status, body: (await res.json()) as { code?: string; message?: string } };
}

test("ListSandboxes with an unknown state name in JSON is INVALID_ARGUMENT, not an unfiltered list", async () => {
  // A sandbox exists, so an ignored filter would visibly return it.
  await env.client(ORG).createSandbox({ wait: false });
  const headers = { "x-test-organization": ORG };
  const bogus = await connectJson(
    env.server.url,
    "cove.sandbox.v1.SandboxService/ListSandboxes",
    JSON.stringify({ states: ["SANDBOX_STATE_BOGUS"] }),
    headers,
  );
  expect(bogus.status).toBe(400);
  expect(bogus.body.code).toBe("invalid_argument");
  // Decoding fails before any handler runs; the message names the enum and the bad name.
  expect(bogus.body.message).toContain("cove.sandbox.v1.SandboxState");
  expect(bogus.body.message).toContain("SANDBOX_STATE_BOGUS");
  // A misspelt field name is refused the same way instead of being dropped.
  const typo = await connectJson(
    env.server.url,
    "cove.sandbox.v1.SandboxService/ListSandboxes",
    JSON.stringify({ stats: ["SANDBOX_STATE_STARTED"] }),
    headers,
  );
  expect(typo.status).toBe(400);
  expect(typo.body.message).toContain("stats");
  // A known name still filters, and an unknown number is refused like in binary.
  const known = await connectJson(
    env.server.url,
    "cove.sandbox.v1.SandboxService/ListSandboxes",
    JSON.stringify({ states: ["SANDBOX_STATE_DESTROYED"] }),
    headers,
  );
  expect(known.status).toBe(200);
  expect(known.body).toEqual({});
  const number = await connectJson(
    env.server.url,
    "cove.sandbox.v1.SandboxService/ListSandboxes",
    JSON.stringify({ states: [42] }),
    headers,
  );
  expect(number.status).toBe(400);
  expect(number.body.message).toContain("states[0]: unknown SandboxState value 42");
});

test("an unknown numeric state in binary ListSandboxes names the field", async () => {
  const err = ConnectError.from(
    await env
      .client(ORG)
      .listSandboxes({ states: [SandboxState.STARTED, 1000 as SandboxState] })
      .catch((e) => e),
  );
  expect(err.code).toBe(Code.InvalidArgument);
  expect(err.findDetails(BadRequestSchema)[0]?.fieldViolations).toEqual([
    expect.objectContaining({ field: "states[1]" }),
  ]);
});

test("ListApiKeys with an unknown numeric state is INVALID_ARGUMENT with a field violation", async () => {
  const alice = await seedOrg(t.db);
  const keys = clientsFor(iam.server.url, alice.secret).keys;
  expect((await keys.listApiKeys({ states: [ApiKeyState.ACTIVE] })).apiKeys).toHaveLength(1);
  const err = await expectError(
    keys.listApiKeys({ states: [99 as ApiKeyState] }),
    Code.InvalidArgument,
    "INVALID_FIELD",
  );
  expect(err.findDetails(BadRequestSchema)[0]?.fieldViolations).toEqual([
    expect.objectContaining({ field: "states[0]", description: "unknown ApiKeyState value 99" }),
  ]);
});

test("without credentials the caller is UNAUTHENTICATED before any validation", async () => {
  await expectError(
    clientsFor(iam.server.url, undefined).keys.listApiKeys({ states: [99 as ApiKeyState] }),
    Code.Unauthenticated,
  );
});
