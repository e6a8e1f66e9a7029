// The quickstart a new user runs, through the SDK against a real stack: create a python sandbox,
// run code and a command, write and read a file, stream a long command's output line by line,
// delete the sandbox. Plus the error classes a user would see first.
import {
  Cove,
  CoveAuthenticationError,
  CoveNotFoundError,
  CoveValidationError,
  type NodeSandbox,
} from "../src/index.js";
import { describeWithDocker, type SdkHarness, startHarness } from "./harness.js";

describeWithDocker("the SDK quickstart", () => {
  let h: SdkHarness;
  beforeAll(async () => {
    h = await startHarness("sdk-quickstart");
  }, 900_000);
  afterAll(async () => {
    h?.cove.close();
    await h?.stack.stop();
  });

  test("create → codeRun → executeCommand → files → streamed output → delete", async () => {
    const sandbox: NodeSandbox = await h.cove.create({
      language: "python",
      labels: { suite: "quickstart" },
    });
    expect(sandbox.state).toBe("started");
    expect(sandbox.id).toMatch(/^[a-z0-9]{20}$/);

    const code = await sandbox.process.codeRun('print("Sum:", 3 + 4)');
    expect(code.exitCode).toBe(0);
    expect(code.result).toBe("Sum: 7\n");

    const cmd = await sandbox.process.executeCommand('python3 -c "print(\\"Sum:\\", 3 + 4)"');
    expect(cmd).toMatchObject({ exitCode: 0, result: "Sum: 7\n", stderr: "", timedOut: false });

    await sandbox.fs.uploadFile(Buffer.from("hello from the SDK\n"), "notes/hello.txt");
    const back = await sandbox.fs.downloadFile("notes/hello.txt");
    expect(back.toString("utf8")).toBe("hello from the SDK\n");
    const listed = await sandbox.fs.listFiles("notes");
    expect(listed.map((f) => f.name)).toEqual(["hello.txt"]);

    const lines: string[] = [];
    const seenBeforeWait: string[][] = [];
    const handle = await sandbox.process.start(
      "for i in $(seq 1 5); do echo line $i; sleep 0.2; done",
      {
        onStdout: (text) => {
          for (const line of text.split("\n")) if (line) lines.push(line);
        },
      },
    );
    expect(handle.pid).toBeGreaterThan(0);
    // Lines arrive while the command runs, not all at the end.
    await new Promise((r) => setTimeout(r, 500));
    seenBeforeWait.push([...lines]);
    const result = await handle.wait();
    expect(seenBeforeWait[0]?.length).toBeGreaterThanOrEqual(1);
    expect(seenBeforeWait[0]?.length).toBeLessThan(5);
    expect(lines).toEqual(["line 1", "line 2", "line 3", "line 4", "line 5"]);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe("line 1\nline 2\nline 3\nline 4\nline 5\n");

    await h.cove.delete(sandbox);
    const gone = await h.cove.get(sandbox.id);
    expect(["destroying", "destroyed"]).toContain(gone.state);
  }, 180_000);

  test("a create that fails after the server made the sandbox leaves no sandbox behind", async () => {
    const err = await h.cove
      .create({ image: "cove/no-such-image:never", labels: { suite: "create-cleanup" } })
      .catch((e) => e);
    expect(err).toBeInstanceOf(CoveNotFoundError);
    expect(err.reason).toBe("IMAGE_NOT_FOUND");
    const made = err.metadata.sandbox_id ?? err.metadata.sandboxId;
    expect(made).toMatch(/^[a-z0-9]{20}$/);
    // The SDK deleted it: it is on its way out, and nothing with the label is left running.
    expect(["destroying", "destroyed"]).toContain((await h.cove.get(made)).state);
    const left = await h.cove.list({ labels: { suite: "create-cleanup" } });
    expect(left.filter((s) => s.state !== "destroying")).toEqual([]);
  }, 60_000);

  test("COVE_PROXY_URL wins over the toolbox URL the server reports", async () => {
    // The test server reports http://localhost:4000, where no proxy listens.
    const saved = process.env.COVE_PROXY_URL;
    process.env.COVE_PROXY_URL = h.stack.proxyUrl;
    const cove = new Cove({ apiKey: h.stack.adminKey, apiUrl: h.stack.apiUrl });
    try {
      const sandbox = await cove.create({ labels: { suite: "proxy-env" } });
      expect(sandbox.info.toolboxUrl).not.toBe(h.stack.proxyUrl);
      expect(sandbox.toolboxUrl).toBe(h.stack.proxyUrl);
      expect((await sandbox.process.executeCommand("echo via env")).result).toBe("via env\n");
      await cove.delete(sandbox);
    } finally {
      if (saved === undefined) delete process.env.COVE_PROXY_URL;
      else process.env.COVE_PROXY_URL = saved;
      cove.close();
    }
  }, 120_000);

  test("errors map to the SDK's classes", async () => {
    const missing = await h.cove.get("nosuchsandbox0000000").catch((e) => e);
    expect(missing).toBeInstanceOf(CoveNotFoundError);
    expect(missing.reason).toBe("SANDBOX_NOT_FOUND");
    expect(missing.code).toBe("not_found");

    const bad = new Cove({
      apiKey: "cove_sk_not_a_real_key",
      apiUrl: h.stack.apiUrl,
      proxyUrl: h.stack.proxyUrl,
    });
    const denied = await bad.list().catch((e) => e);
    bad.close();
    expect(denied).toBeInstanceOf(CoveAuthenticationError);
    expect(denied.code).toBe("unauthenticated");

    const invalid = await h.cove.create({ labels: { "Not A Key!": "x" } }).catch((e) => e);
    expect(invalid).toBeInstanceOf(CoveValidationError);
    expect(invalid.reason).toBe("INVALID_FIELD");
    expect(invalid.fieldViolations.length).toBeGreaterThan(0);
  }, 60_000);
});
