// The pure parts behind the image, archive and volume commands: image references, credential
// scrubbing, build input checks, archive URIs, the archive manifest framing, and progress
// batching. No Docker needed.
import { PassThrough, Readable } from "node:stream";
import type { CoveError } from "@cove/common";
import { manifestHeader, readArchive } from "../src/archive/archive-format.js";
import { parseArchiveUri } from "../src/archive/object-store.js";
import { createProgressReporter, cutLine } from "../src/control/progress-reporter.js";
import { checkWorkdirs, validateBuild } from "../src/images/build-context.js";
import { parseImageReference } from "../src/images/image-reference.js";
import { createRedactor } from "../src/images/registry-auth.js";
import { subPathParts, validateMountPath } from "../src/volumes/volume-manager.js";

const reason = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return (err as CoveError).reason;
  }
  return "none";
};

test("image references: registry, repository, tag and digest; junk is INVALID_FIELD", () => {
  expect(parseImageReference("alpine")).toMatchObject({
    registry: "docker.io",
    repository: "library/alpine",
    tag: "",
    name: "alpine",
  });
  expect(parseImageReference("127.0.0.1:5000/team/app:v1")).toMatchObject({
    registry: "127.0.0.1:5000",
    repository: "team/app",
    tag: "v1",
    name: "127.0.0.1:5000/team/app",
  });
  const digest = `sha256:${"a".repeat(64)}`;
  expect(parseImageReference(`ghcr.io/x/y@${digest}`).digest).toBe(digest);
  for (const bad of ["", "Upper/case", "-rm", "a//b", "a:b:c", "x@sha256:short", "a\0b", "a b"]) {
    expect([bad, reason(() => parseImageReference(bad))]).toEqual([bad, "INVALID_FIELD"]);
  }
});

test("the redactor removes the password in every form a message could carry it", () => {
  const redact = createRedactor({ server: "r", username: "u", password: "hunter22" });
  const b64 = Buffer.from("u:hunter22").toString("base64");
  expect(redact(`auth hunter22 and ${b64} and u:hunter22`)).toBe(
    "auth [redacted] and [redacted] and [redacted]",
  );
  expect(createRedactor(undefined)("nothing to hide")).toBe("nothing to hide");
});

test("build inputs: WORKDIR into /proc, /sys or /dev is refused, also through ARG, ENV and relative steps", () => {
  expect(reason(() => checkWorkdirs("FROM x\nWORKDIR /proc/self/fd/7\n", {}))).toBe(
    "INVALID_FIELD",
  );
  expect(reason(() => checkWorkdirs("FROM x\nARG W\nWORKDIR $W\n", { W: "/sys/fs" }))).toBe(
    "INVALID_FIELD",
  );
  // biome-ignore lint/suspicious/noTemplateCurlyInString: Dockerfile variable syntax.
  expect(reason(() => checkWorkdirs("FROM x\nENV D=/dev\nWORKDIR ${D}/shm\n", {}))).toBe(
    "INVALID_FIELD",
  );
  expect(reason(() => checkWorkdirs("FROM x\nWORKDIR /\nWORKDIR proc\n", {}))).toBe(
    "INVALID_FIELD",
  );
  expect(reason(() => checkWorkdirs("FROM x\nWORKDIR /app/../proc/1\n", {}))).toBe("INVALID_FIELD");
  expect(reason(() => checkWorkdirs("FROM x\nWORKDIR /home/cove/proc\nWORKDIR sys\n", {}))).toBe(
    "none",
  );
});

test("build inputs: duplicate paths, file-and-directory clashes, bad modes and ARG names are refused", () => {
  const build = (
    files: Array<{ path: string; mode?: number }>,
    buildArgs: Record<string, string> = {},
  ) =>
    reason(() =>
      validateBuild({
        content: "FROM x\n",
        files: files.map((f) => ({ ...f, content: Buffer.from("x") })),
        buildArgs,
        target: "",
      }),
    );
  expect(build([{ path: "a" }, { path: "./a" }])).toBe("INVALID_FIELD");
  expect(build([{ path: "a" }, { path: "a/b" }])).toBe("INVALID_FIELD");
  expect(build([{ path: "a", mode: 0o100000 }])).toBe("INVALID_FIELD");
  expect(build([{ path: "a" }], { "bad-name": "1" })).toBe("INVALID_FIELD");
  const files = validateBuild({
    content: "FROM x\n",
    files: [{ path: "./dir//f", content: Buffer.from("x"), mode: 0o4755 }],
    buildArgs: {},
    target: "",
  });
  expect(files).toEqual([{ path: "dir/f", content: Buffer.from("x"), mode: 0o755 }]);
  expect(reason(() => validateBuild({ content: " ", files: [], buildArgs: {}, target: "" }))).toBe(
    "INVALID_FIELD",
  );
  expect(
    reason(() =>
      validateBuild({ content: "x".repeat(1024 * 1024 + 1), files: [], buildArgs: {}, target: "" }),
    ),
  ).toBe("PAYLOAD_TOO_LARGE");
});

test("archive URIs: only under the archive directory or an S3 bucket, with plain keys", () => {
  expect(parseArchiveUri("file:///var/cove/archives/a/b.tar", "/var/cove/archives")).toEqual({
    scheme: "file",
    bucket: "",
    key: "a/b.tar",
  });
  expect(parseArchiveUri("s3://my-bucket/org/x.tar", "/d")).toEqual({
    scheme: "s3",
    bucket: "my-bucket",
    key: "org/x.tar",
  });
  for (const bad of [
    "file:///etc/passwd",
    "file:///var/cove/archives/../x",
    "s3://b/../x",
    "s3://Bad/x",
    "s3:///x",
    "ftp://x/y",
    "s3://bucket/a//b",
  ]) {
    expect([bad, reason(() => parseArchiveUri(bad, "/var/cove/archives"))]).toEqual([
      bad,
      "INVALID_FIELD",
    ]);
  }
});

test("the archive manifest frames the payload and comes off the front of the stream, whatever the chunking", async () => {
  const manifest = {
    format: "cove-archive" as const,
    version: 1 as const,
    mode: "layer" as const,
    sandboxId: "s1",
    imageId: "sha256:abc",
    image: "img",
    config: { cmd: ["sleep"], workingDir: "/", user: "cove", env: [] },
    createTime: new Date(0).toISOString(),
  };
  const payload = Buffer.alloc(5000, 9);
  const whole = Buffer.concat([manifestHeader(manifest), payload]);
  for (const size of [1, 100, 511, 512, 513, 4096, whole.length]) {
    const chunks: Buffer[] = [];
    for (let i = 0; i < whole.length; i += size) chunks.push(whole.subarray(i, i + size));
    const read = await readArchive(Readable.from(chunks));
    expect(read.manifest).toEqual(manifest);
    const rest: Buffer[] = [];
    for await (const c of read.payload) rest.push(c as Buffer);
    expect(Buffer.concat(rest).equals(payload)).toBe(true);
  }
  await expect(readArchive(Readable.from([Buffer.alloc(1024)]))).rejects.toThrow(
    /not a Cove archive/,
  );
  const source = new PassThrough();
  source.end(Buffer.alloc(10));
  await expect(readArchive(source)).rejects.toThrow(/ends before/);
});

test("progress: lines are batched, cut at 8 KiB, and a message holds under 1 MiB of them", async () => {
  const sent: Array<{ stage?: string; logLines?: Array<{ text?: string }> }> = [];
  const progress = createProgressReporter("c1", (p) => sent.push(p));
  progress.stage("building");
  for (let i = 0; i < 300; i++) progress.line(`line ${i} ${"x".repeat(8000)}`);
  progress.close();
  expect(sent[0]).toMatchObject({ stage: "building", logLines: [] });
  const lines = sent.flatMap((p) => p.logLines ?? []);
  expect(lines).toHaveLength(300);
  expect(sent.length).toBeGreaterThan(2);
  for (const p of sent) {
    const bytes = (p.logLines ?? []).reduce((n, l) => n + Buffer.byteLength(l.text ?? ""), 0);
    expect(bytes).toBeLessThan(1024 * 1024);
  }
  expect(Buffer.byteLength(cutLine("é".repeat(10_000)))).toBeLessThanOrEqual(8 * 1024);
});

test("volume mount paths and sub paths", () => {
  expect(validateMountPath("/home/cove//data/", "f")).toBe("/home/cove/data");
  for (const bad of [
    "/",
    "/proc",
    "/sys/x",
    "/dev",
    "/run/cove/x",
    "/cove",
    "rel",
    "/a/../b",
    "/a:b",
  ]) {
    expect([bad, reason(() => validateMountPath(bad, "f"))]).toEqual([bad, "INVALID_FIELD"]);
  }
  expect(subPathParts("a/./b//c", "f")).toEqual(["a", "b", "c"]);
  expect(reason(() => subPathParts("a/../b", "f"))).toBe("INVALID_FIELD");
  expect(reason(() => subPathParts("/a", "f"))).toBe("INVALID_FIELD");
});
