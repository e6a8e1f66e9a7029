// The error table and the retry policy, without a server: ConnectErrors with the details the
// Cove servers send become the right SDK classes, and only safe failures are retried.
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  BadRequestSchema,
  ErrorInfoSchema,
  RetryInfoSchema,
} from "@cove/gen-ts/google/rpc/error_details_pb.js";
import { unary } from "../src/core/rpc.js";
import {
  CoveAlreadyExistsError,
  CoveAuthenticationError,
  CoveConflictError,
  CoveError,
  CoveNotFoundError,
  CovePermissionError,
  CoveQuotaError,
  CoveRateLimitError,
  CoveTimeoutError,
  CoveUnavailableError,
  CoveValidationError,
  toCoveError,
} from "../src/index.js";

type Details = NonNullable<ConstructorParameters<typeof ConnectError>[3]>;

function wire(code: Code, reason?: string, extra: Details = []): ConnectError {
  const details: Details = reason
    ? [
        {
          desc: ErrorInfoSchema,
          value: create(ErrorInfoSchema, {
            reason,
            domain: "cove.dev",
            metadata: { sandboxId: "s1" },
          }),
        },
      ]
    : [];
  return new ConnectError("boom", code, undefined, [...details, ...extra]);
}

test.each([
  [Code.NotFound, undefined, CoveNotFoundError],
  [Code.Unauthenticated, "API_KEY_INVALID", CoveAuthenticationError],
  [Code.PermissionDenied, undefined, CovePermissionError],
  [Code.ResourceExhausted, "RATE_LIMITED", CoveRateLimitError],
  [Code.ResourceExhausted, "QUOTA_EXCEEDED", CoveQuotaError],
  [Code.ResourceExhausted, "PAYLOAD_TOO_LARGE", CoveQuotaError],
  [Code.DeadlineExceeded, "WAIT_TIMED_OUT", CoveTimeoutError],
  [Code.FailedPrecondition, "SANDBOX_STATE_CONFLICT", CoveConflictError],
  [Code.AlreadyExists, "TAG_IN_USE", CoveAlreadyExistsError],
  [Code.Unavailable, "RUNNER_UNAVAILABLE", CoveUnavailableError],
  [Code.InvalidArgument, "INVALID_FIELD", CoveValidationError],
  [Code.Internal, undefined, CoveError],
] as const)("code %s reason %s → %p", (code, reason, type) => {
  const e = toCoveError(wire(code, reason));
  expect(e).toBeInstanceOf(type);
  expect(e).toBeInstanceOf(CoveError);
  expect(e.reason).toBe(reason);
  if (reason) expect(e.metadata).toEqual({ sandboxId: "s1" });
  expect(e.message).toBe("boom");
});

test("field violations and RetryInfo are read", () => {
  const e = toCoveError(
    wire(Code.InvalidArgument, "INVALID_FIELD", [
      {
        desc: BadRequestSchema,
        value: create(BadRequestSchema, {
          fieldViolations: [{ field: "labels", description: "bad key" }],
        }),
      },
    ]),
  );
  expect(e.fieldViolations).toEqual([{ field: "labels", description: "bad key" }]);
  const r = toCoveError(
    wire(Code.ResourceExhausted, "RATE_LIMITED", [
      {
        desc: RetryInfoSchema,
        value: create(RetryInfoSchema, { retryDelay: { seconds: 1n, nanos: 500_000_000 } }),
      },
    ]),
  );
  expect(r.retryAfterMs).toBe(1500);
});

describe("retries", () => {
  const policy = { timeoutMs: 5_000, retries: 3, idleTimeoutMs: 1_000 };
  const failing = (codes: [Code, string?][]) => {
    let n = 0;
    const call = async () => {
      const next = codes[n++];
      if (next) throw wire(next[0], next[1]);
      return "ok";
    };
    return { call, calls: () => n };
  };

  test("idempotent calls retry Unavailable and Aborted", async () => {
    const f = failing([[Code.Unavailable], [Code.Aborted]]);
    await expect(unary(policy, { idempotent: true }, f.call)).resolves.toBe("ok");
    expect(f.calls()).toBe(3);
  });

  test("non-idempotent calls retry only an up-front refusal (rate limit)", async () => {
    const a = failing([[Code.Unavailable]]);
    await expect(unary(policy, { idempotent: false }, a.call)).rejects.toBeInstanceOf(
      CoveUnavailableError,
    );
    expect(a.calls()).toBe(1);
    const b = failing([[Code.ResourceExhausted, "RATE_LIMITED"]]);
    await expect(unary(policy, { idempotent: false }, b.call)).resolves.toBe("ok");
  });

  test("quota, not-found and invalid-argument are never retried; retries stop at the limit", async () => {
    for (const c of [
      [Code.ResourceExhausted, "QUOTA_EXCEEDED"],
      [Code.NotFound],
      [Code.InvalidArgument],
    ] as [Code, string?][]) {
      const f = failing([c]);
      await expect(unary(policy, { idempotent: true }, f.call)).rejects.toBeInstanceOf(CoveError);
      expect(f.calls()).toBe(1);
    }
    const many = failing(Array.from({ length: 10 }, () => [Code.Unavailable] as [Code]));
    await expect(unary(policy, { idempotent: true }, many.call)).rejects.toBeInstanceOf(
      CoveUnavailableError,
    );
    expect(many.calls()).toBe(4);
  });
});
