// The descriptor rules of message-validation.ts on real Cove request messages.
import { create } from "@bufbuild/protobuf";
import type { ApiKeyState } from "@cove/gen-ts/cove/iam/v1/api_key_pb.js";
import { ListApiKeysRequestSchema } from "@cove/gen-ts/cove/iam/v1/api_key_service_pb.js";
import { type NetworkPolicyMode, SandboxState } from "@cove/gen-ts/cove/sandbox/v1/sandbox_pb.js";
import {
  CreateSandboxRequestSchema,
  ListSandboxesRequestSchema,
} from "@cove/gen-ts/cove/sandbox/v1/sandbox_service_pb.js";
import type { Signal } from "@cove/gen-ts/cove/toolbox/v1/process_pb.js";
import { SendSignalRequestSchema } from "@cove/gen-ts/cove/toolbox/v1/process_service_pb.js";
import { CoveError } from "./errors.js";
import {
  checkMessage,
  findMessageViolations,
  MAX_REPORTED_VIOLATIONS,
} from "./message-validation.js";

test("a well-formed request has no violations", () => {
  const req = create(CreateSandboxRequestSchema, {
    source: { case: "image", value: "python:3.12-slim" },
    labels: { team: "blue" },
    env: { GREETING: "héllo 👋" },
    networkPolicy: { mode: 2, allowCidrs: ["1.1.1.1/32"] },
    autoStopInterval: { seconds: 900n, nanos: 0 },
  });
  expect(findMessageViolations(CreateSandboxRequestSchema, req).violations).toEqual([]);
});

test("unknown enum values are violations wherever they sit: singular, repeated, nested", () => {
  const list = create(ListSandboxesRequestSchema, {
    states: [SandboxState.STARTED, 99 as SandboxState],
  });
  expect(findMessageViolations(ListSandboxesRequestSchema, list).violations).toEqual([
    { field: "states[1]", description: "unknown SandboxState value 99" },
  ]);
  const keys = create(ListApiKeysRequestSchema, { states: [-1 as ApiKeyState] });
  expect(() => checkMessage(ListApiKeysRequestSchema, keys)).toThrow(
    /states\[0\]: unknown ApiKeyState value -1/,
  );
  const nested = create(CreateSandboxRequestSchema, {
    networkPolicy: { mode: 7 as NetworkPolicyMode },
  });
  expect(findMessageViolations(CreateSandboxRequestSchema, nested).violations).toEqual([
    { field: "network_policy.mode", description: "unknown NetworkPolicyMode value 7" },
  ]);
  const signal = create(SendSignalRequestSchema, { signal: 1234 as Signal });
  expect(findMessageViolations(SendSignalRequestSchema, signal).violations[0]?.field).toBe(
    "signal",
  );
});

test("NUL and lone surrogates in strings, map keys and oneof members are violations", () => {
  const req = create(CreateSandboxRequestSchema, {
    source: { case: "image", value: "img\0" },
    labels: { "k\0": "v", ok: "\ud800" },
    osUser: "a\0b",
  });
  const fields = findMessageViolations(CreateSandboxRequestSchema, req).violations.map(
    (v) => v.field,
  );
  expect(fields).toEqual(expect.arrayContaining(["image", "labels.ok", "os_user"]));
  expect(fields.some((f) => f.startsWith("labels (key"))).toBe(true);
  // NUL may be allowed by a server that stores raw text; surrogates never are.
  const lenient = findMessageViolations(CreateSandboxRequestSchema, req, {
    rejectNulInStrings: false,
  });
  expect(lenient.violations.map((v) => v.field)).toEqual(["labels.ok"]);
});

test("durations out of range or denormalized are violations", () => {
  const bad = (seconds: bigint, nanos: number) =>
    findMessageViolations(
      CreateSandboxRequestSchema,
      create(CreateSandboxRequestSchema, { waitTimeout: { seconds, nanos } }),
    ).violations.map((v) => v.field);
  expect(bad(10n, 5)).toEqual([]);
  expect(bad(1n << 62n, 0)).toEqual(["wait_timeout"]);
  expect(bad(1n, -5)).toEqual(["wait_timeout"]);
  expect(bad(0n, 2_000_000_000)).toEqual(["wait_timeout"]);
});

test("a flood of bad entries reports a bounded list and says how many there were", () => {
  const labels: Record<string, string> = {};
  for (let i = 0; i < 500; i++) labels[`k${i}`] = "\0";
  const req = create(CreateSandboxRequestSchema, { labels });
  const found = findMessageViolations(CreateSandboxRequestSchema, req);
  expect(found.violations).toHaveLength(MAX_REPORTED_VIOLATIONS);
  expect(found.total).toBe(500);
  try {
    checkMessage(CreateSandboxRequestSchema, req);
    throw new Error("expected a violation");
  } catch (err) {
    expect(err).toBeInstanceOf(CoveError);
    expect((err as CoveError).code).toBe("invalidArgument");
    expect((err as CoveError).message).toContain(`and ${500 - MAX_REPORTED_VIOLATIONS} more`);
  }
});
