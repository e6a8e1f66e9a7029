// What the client decides before any call is made: where toolbox calls go (what the caller
// configured beats what the server reports) and what uploadFile accepts (content only; a
// string is never guessed to be text or a path). No stack needed: nothing here reaches a server.
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createRouterTransport, type ServiceImpl } from "@connectrpc/connect";
import { SandboxSchema, SandboxState } from "@cove/gen-ts/cove/sandbox/v1/sandbox_pb.js";
import { SandboxService } from "@cove/gen-ts/cove/sandbox/v1/sandbox_service_pb.js";
import { ErrorInfoSchema } from "@cove/gen-ts/google/rpc/error_details_pb.js";
import { CoveClient, createdSandboxId } from "../src/core/cove.js";
import { CoveError } from "../src/core/errors.js";
import type { Platform } from "../src/core/rpc.js";
import { Sandbox } from "../src/core/sandbox.js";
import { Cove, CoveConflictError } from "../src/index.js";
import { Cove as WebCove } from "../src/web.js";

const reported = (toolboxUrl: string) =>
  create(SandboxSchema, { sandboxId: "sbx", state: SandboxState.STARTED, toolboxUrl });

describe("proxy URL", () => {
  const saved = process.env.COVE_PROXY_URL;
  afterEach(() => {
    if (saved === undefined) delete process.env.COVE_PROXY_URL;
    else process.env.COVE_PROXY_URL = saved;
  });

  test("COVE_PROXY_URL wins over the toolbox_url the server reports", () => {
    process.env.COVE_PROXY_URL = "http://127.0.0.1:4999/";
    const cove = new Cove({ apiKey: "k", apiUrl: "http://127.0.0.1:1" });
    expect(cove.toolboxUrlFor(reported("http://inside.cluster:4000"))).toBe(
      "http://127.0.0.1:4999",
    );
    cove.close();
  });

  test("the proxyUrl option wins over both; the server's URL is used only when nothing is set", () => {
    process.env.COVE_PROXY_URL = "http://from-env:1";
    const explicit = new Cove({
      apiKey: "k",
      apiUrl: "http://127.0.0.1:1",
      proxyUrl: "http://opt:2",
    });
    expect(explicit.toolboxUrlFor(reported("http://server:3"))).toBe("http://opt:2");
    explicit.close();
    delete process.env.COVE_PROXY_URL;
    const plain = new Cove({ apiKey: "k", apiUrl: "http://127.0.0.1:1" });
    expect(plain.toolboxUrlFor(reported("http://server:3/"))).toBe("http://server:3");
    const none = (() => {
      try {
        plain.toolboxUrlFor(reported(""));
      } catch (err) {
        return err;
      }
    })();
    expect(none).toBeInstanceOf(CoveConflictError);
    expect((none as CoveConflictError).reason).toBe("PROXY_URL_UNKNOWN");
    plain.close();
  });
});

describe("uploadFile takes content only", () => {
  const cove = new Cove({
    apiKey: "k",
    apiUrl: "http://127.0.0.1:1",
    proxyUrl: "http://127.0.0.1:1",
  });
  const sandbox = cove.attach("sbx");
  afterAll(() => cove.close());

  test("a string is a TypeError that names uploadFileFromPath and how to encode text", async () => {
    const err = await sandbox.fs.uploadFile("./local.txt" as never, "remote.txt").catch((e) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect(err.message).toMatch(/not a string/);
    expect(err.message).toMatch(/uploadFileFromPath\(localPath, remotePath\)/);
    expect(err.message).toMatch(/Buffer\.from\(text\)/);
  });

  test("other non-content values are TypeErrors too; so is a path in uploadFiles' source", async () => {
    for (const bad of [42, null, undefined, { path: "x" }, ["a"]]) {
      const err = await sandbox.fs.uploadFile(bad as never, "remote.txt").catch((e) => e);
      expect(err).toBeInstanceOf(TypeError);
    }
    const err = await sandbox.fs
      .uploadFiles([{ source: "/etc/passwd" as never, destination: "x" }])
      .catch((e) => e);
    expect(err).toBeInstanceOf(TypeError);
  });

  test("uploadFileFromPath reads only real local files (ENOENT before anything is sent)", async () => {
    const err = await sandbox.fs
      .uploadFileFromPath("/no/such/local/file", "remote.txt")
      .catch((e) => e);
    expect(err.code).toBe("ENOENT");
  });

  test("the browser client refuses strings the same way", async () => {
    const web = new WebCove({
      apiKey: "k",
      apiUrl: "http://127.0.0.1:1",
      proxyUrl: "http://127.0.0.1:1",
    });
    const err = await web
      .attach("sbx")
      .fs.uploadFile("text" as never, "r")
      .catch((e) => e);
    expect(err).toBeInstanceOf(TypeError);
  });
});

describe("which sandbox a failed create made", () => {
  const error = (reason: string, metadata: Record<string, string>) =>
    new CoveError("x", { code: "failed_precondition", reason, metadata });

  test("sandbox_id from the server, else the sandbox a failed wait names, never another request's", () => {
    expect(createdSandboxId(error("INTERNAL", { sandbox_id: "made" }))).toBe("made");
    expect(createdSandboxId(error("WAIT_TIMED_OUT", { sandboxId: "waited" }))).toBe("waited");
    expect(createdSandboxId(error("IMAGE_NOT_FOUND", { sandboxId: "broken" }))).toBe("broken");
    expect(createdSandboxId(error("IDEMPOTENCY_CONFLICT", { sandboxId: "other" }))).toBeUndefined();
    expect(createdSandboxId(error("QUOTA_EXCEEDED", {}))).toBeUndefined();
  });
});

describe("create cleans up after itself (in-memory SandboxService)", () => {
  /** A client whose API server is an in-memory router running `impl`. */
  function clientWith(impl: Partial<ServiceImpl<typeof SandboxService>>) {
    const platform: Platform = {
      name: "test",
      clientStreaming: true,
      createTransport: (_url, interceptors) =>
        createRouterTransport(({ service }) => service(SandboxService, impl), {
          transport: { interceptors },
        }),
      close() {},
      env: () => undefined,
    };
    return new CoveClient(
      { apiKey: "k", retries: 0 },
      platform,
      (host, info) => new Sandbox(host, info),
    );
  }
  const failure = (code: Code, reason: string, metadata: Record<string, string>) =>
    new ConnectError("create failed", code, undefined, [
      {
        desc: ErrorInfoSchema,
        value: create(ErrorInfoSchema, { reason, domain: "cove.dev", metadata }),
      },
    ]);

  test("an error naming sandbox_id deletes that sandbox and rethrows the error", async () => {
    const deleted: string[] = [];
    const cove = clientWith({
      createSandbox: () => {
        throw failure(Code.Internal, "INTERNAL", { sandbox_id: "made-then-failed" });
      },
      deleteSandbox: (req) => {
        deleted.push(req.sandboxId);
        return { sandbox: create(SandboxSchema, { sandboxId: req.sandboxId }) };
      },
    });
    const err = await cove.create().catch((e) => e);
    expect(err).toBeInstanceOf(CoveError);
    expect(err.metadata.sandbox_id).toBe("made-then-failed");
    expect(deleted).toEqual(["made-then-failed"]);
  });

  test("a create answered before STARTED whose wait then fails deletes the sandbox", async () => {
    const deleted: string[] = [];
    const cove = clientWith({
      createSandbox: () => ({
        sandbox: create(SandboxSchema, { sandboxId: "slow", state: SandboxState.CREATING }),
      }),
      startSandbox: () => {
        throw failure(Code.DeadlineExceeded, "WAIT_TIMED_OUT", { sandboxId: "slow" });
      },
      deleteSandbox: (req) => {
        deleted.push(req.sandboxId);
        throw new ConnectError("delete failed too", Code.Unavailable);
      },
    });
    const err = await cove.create({}, { timeout: 5 }).catch((e) => e);
    expect(err.reason).toBe("WAIT_TIMED_OUT"); // the wait's error, not the failed delete's
    expect(deleted).toEqual(["slow"]);
  });

  test("an IDEMPOTENCY_CONFLICT (another request's sandbox) deletes nothing", async () => {
    const deleted: string[] = [];
    const cove = clientWith({
      createSandbox: () => {
        throw failure(Code.AlreadyExists, "IDEMPOTENCY_CONFLICT", { sandboxId: "not-ours" });
      },
      deleteSandbox: (req) => {
        deleted.push(req.sandboxId);
        return {};
      },
    });
    await expect(cove.create({ idempotencyKey: "k1" })).rejects.toBeInstanceOf(CoveError);
    expect(deleted).toEqual([]);
  });
});
