// The image reference grammar: what Docker accepts, and nothing that could steer an engine URL.
import {
  formatImageReference,
  normalizeImageReference,
  parseImageReference,
  repositoryOf,
} from "./image-reference.js";

const digest = `sha256:${"a".repeat(64)}`;

test.each([
  ["python", { domain: "", path: "python", tag: "", digest: "" }],
  ["python:3.12-slim", { domain: "", path: "python", tag: "3.12-slim", digest: "" }],
  [
    "cove/sandbox:0.1.0-a623eefe67ff",
    { domain: "", path: "cove/sandbox", tag: "0.1.0-a623eefe67ff", digest: "" },
  ],
  ["ghcr.io/org/team/app:v1", { domain: "ghcr.io", path: "org/team/app", tag: "v1", digest: "" }],
  ["localhost:5000/img", { domain: "localhost:5000", path: "img", tag: "", digest: "" }],
  ["localhost/img:x", { domain: "localhost", path: "img", tag: "x", digest: "" }],
  [
    "Registry.Example.com:443/a__b/c-d.e:T_1",
    { domain: "Registry.Example.com:443", path: "a__b/c-d.e", tag: "T_1", digest: "" },
  ],
  [`busybox@${digest}`, { domain: "", path: "busybox", tag: "", digest }],
  [`[::1]:5000/img:1@${digest}`, { domain: "[::1]:5000", path: "img", tag: "1", digest }],
])("%s parses", (text, expected) => {
  const parsed = parseImageReference(text);
  expect(parsed).toEqual({ ok: true, reference: expected });
  if (parsed.ok) expect(formatImageReference(parsed.reference)).toBe(text);
});

test.each([
  // The inputs that crashed or reached the engine before.
  ["img;id", /lower-case letters and digits/],
  ["UPPER/Case", /lower case/],
  ["../../etc/passwd", /registry host/],
  ["a/../../b", /part "\.\."/],
  ["%2e%2e/x", /lower-case letters and digits/],
  ["..", /lower-case letters and digits/],
  ["/etc/passwd", /empty part/],
  ["a//b", /empty part/],
  ["a/b/", /empty part/],
  ["img\0", /control characters/],
  ["img name", /spaces/],
  ["img\n", /control characters/],
  ["img:", /tag/],
  ["img:-x", /tag/],
  [`img:${"t".repeat(129)}`, /tag/],
  ["img@sha256:abc", /digest/],
  ["img@md5:0123456789abcdef0123456789abcdef", /digest/],
  [`${"a".repeat(256)}`, /at most 255/],
  ["a".repeat(64).replace(/a/g, "f"), /image id/],
  ["pýthon", /lower-case letters and digits/],
  ["host:99999/img", /port/],
  ["-bad.host/img", /registry host/],
  ["img?x=1", /lower-case letters and digits/],
  ["img#frag", /lower-case letters and digits/],
  ["", /empty/],
])("%j is refused", (text, message) => {
  const parsed = parseImageReference(text);
  expect(parsed.ok).toBe(false);
  if (!parsed.ok) expect(parsed.error).toMatch(message);
});

test("normalization spells out Docker Hub, library/ and latest", () => {
  const norm = (text: string) => {
    const parsed = parseImageReference(text);
    if (!parsed.ok) throw new Error(parsed.error);
    return formatImageReference(normalizeImageReference(parsed.reference));
  };
  expect(norm("python")).toBe("docker.io/library/python:latest");
  expect(norm("docker.io/python:3")).toBe("docker.io/library/python:3");
  expect(norm("index.docker.io/cove/sandbox")).toBe("docker.io/cove/sandbox:latest");
  expect(norm(`busybox@${digest}`)).toBe(`docker.io/library/busybox@${digest}`);
  expect(norm("ghcr.io/x")).toBe("ghcr.io/x:latest");
  const parsed = parseImageReference("cove/sandbox:1");
  expect(parsed.ok && repositoryOf(parsed.reference)).toBe("docker.io/cove/sandbox");
});
