// CreateSandbox's image: the reference grammar (INVALID_ARGUMENT) and the image policy
// (NOT_FOUND IMAGE_NOT_FOUND), both decided before anything is written, plus the other create
// fields the runner would otherwise refuse after a row existed.
import { Code } from "@connectrpc/connect";
import { BadRequestSchema } from "@cove/gen-ts/google/rpc/error_details_pb.js";
import { createImagePolicy, parsePublicImages } from "../src/domain/sandbox/image-policy.js";
import {
  addOrganization,
  addRunner,
  rejection,
  type SandboxEnv,
  startSandboxEnv,
} from "./sandbox-harness.js";

const ORG = "org_images";
let env: SandboxEnv;

beforeAll(async () => {
  env = await startSandboxEnv({
    defaultImage: "cove/sandbox:0.1.0-test",
    publicImages: ["python:3.12-slim", "node:*", `busybox@sha256:${"b".repeat(64)}`],
  });
  await addOrganization(env.db, ORG);
  await addRunner(env.db, "r-images");
});
afterAll(() => env.close());

async function rowCount(): Promise<number> {
  const [row] = await env.db("sandboxes").where({ organization_id: ORG }).count("* as n");
  return Number(row?.n);
}

const create = (image: string) =>
  env.client(ORG).createSandbox({ wait: false, source: { case: "image", value: image } });

test.each(
  [
    "img;id",
    "UPPER/Case",
    "../../etc/passwd",
    "a/../../b",
    "%2e%2e/x",
    "/var/run/docker.sock",
    "img\n",
    "a".repeat(2000),
    `${"f".repeat(64)}`,
  ].map((image) => [
    image.length > 40 ? `${image.slice(0, 12)}… (${image.length})` : JSON.stringify(image),
    image,
  ]),
)("%s is INVALID_ARGUMENT on field image, and nothing is written", async (_title, image) => {
  const before = await rowCount();
  const err = await rejection(create(image));
  expect(err.code).toBe(Code.InvalidArgument);
  expect(err.reason).toBe("INVALID_FIELD");
  expect(err.metadata.field).toBe("image");
  expect(await rowCount()).toBe(before);
  expect(await env.db("runner_commands").count("* as n")).toEqual([{ n: "0" }]);
});

test("only public images are usable; anything else is NOT_FOUND IMAGE_NOT_FOUND", async () => {
  for (const image of [
    "cove/sandbox:0.1.0-test",
    "docker.io/cove/sandbox:0.1.0-test",
    "python:3.12-slim",
    "docker.io/library/python:3.12-slim",
    "node:20",
    "node",
    `busybox@sha256:${"b".repeat(64)}`,
  ]) {
    const ok = await create(image);
    expect(ok.sandbox?.image).toBe(image);
  }
  const before = await rowCount();
  for (const image of [
    "python:3.11", // another tag of a listed one
    "python", // python:latest is not listed
    "cove/sandbox:latest", // not the configured default
    "cove-test/nonode:b2da8b096c38f3ef", // a test image, which the engine does have
    "ghcr.io/someone/else:1",
    `busybox@sha256:${"c".repeat(64)}`,
    `node@sha256:${"d".repeat(64)}`, // digests must be listed, a tag wildcard does not cover them
  ]) {
    const err = await rejection(create(image));
    expect({ image, code: err.code, reason: err.reason }).toEqual({
      image,
      code: Code.NotFound,
      reason: "IMAGE_NOT_FOUND",
    });
    expect(err.message).toContain("python:3.12-slim");
  }
  expect(await rowCount()).toBe(before);
});

test("fields the runner would refuse later are refused up front", async () => {
  const before = await rowCount();
  const err = await rejection(
    env.client(ORG).createSandbox({
      wait: false,
      env: { COVE_DAEMON_SOCKET: "/tmp/x", OK: "1" },
      volumes: [
        { volumeId: "v1", mountPath: "relative" },
        { volumeId: "v2", mountPath: "/proc/self" },
        { volumeId: "v3", mountPath: "/data/../etc" },
        { volumeId: "", mountPath: "/data", subPath: "../../host" },
      ],
    }),
  );
  expect(err.code).toBe(Code.InvalidArgument);
  const fields = (err.raw.findDetails(BadRequestSchema)[0]?.fieldViolations ?? []).map(
    (v) => v.field,
  );
  expect(fields).toEqual([
    "env.COVE_DAEMON_SOCKET",
    "volumes[0].mount_path",
    "volumes[1].mount_path",
    "volumes[2].mount_path",
    "volumes[3].volume_id",
    "volumes[3].sub_path",
  ]);
  expect(await rowCount()).toBe(before);
});

test("a flood of bad labels is one bounded answer", async () => {
  const labels: Record<string, string> = {};
  for (let i = 0; i < 5000; i++) labels[`Bad Key ${"x".repeat(1000)} ${i}`] = "v";
  const err = await rejection(env.client(ORG).createSandbox({ wait: false, labels }));
  expect(err.code).toBe(Code.InvalidArgument);
  expect(err.raw.findDetails(BadRequestSchema)[0]?.fieldViolations).toHaveLength(20);
  expect(err.message.length).toBeLessThan(10_000);
});

test("internal images cannot be made public, and entries must be references", () => {
  expect(() => parsePublicImages("python:3.12, cove-test/nonode:*")).toThrow(/internal/);
  expect(() => parsePublicImages("python:3.12 img;id")).toThrow(/img;id/);
  expect(parsePublicImages(" python:3.12,node:*  ghcr.io/x/y:1 ")).toEqual([
    "python:3.12",
    "node:*",
    "ghcr.io/x/y:1",
  ]);
  expect(() => createImagePolicy({ defaultImage: "cove/daemon-kit:1" })).toThrow(/internal/);
});

test("organization-owned images plug in through OrganizationImages", async () => {
  const policy = createImagePolicy({
    defaultImage: "cove/sandbox:1",
    organizationImages: {
      owns: (org, ref) => org === "org_a" && ref.path === "snapshots/org_a/app",
    },
  });
  await expect(policy.check("org_a", "snapshots/org_a/app:1")).resolves.toBeUndefined();
  await expect(policy.check("org_b", "snapshots/org_a/app:1")).rejects.toMatchObject({
    code: "notFound",
    reason: "IMAGE_NOT_FOUND",
  });
  await expect(policy.check("org_a", "cove-test/nonode:1")).rejects.toMatchObject({
    reason: "IMAGE_NOT_FOUND",
  });
});
