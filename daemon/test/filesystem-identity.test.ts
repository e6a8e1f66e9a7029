// FilesystemService acts with the sandbox user's identity, never the daemon's: a daemon running
// as root with a default user relays every filesystem call to a helper process running as that
// user, so symlinks planted by sandbox code (final or intermediate) lead only where the user
// could go, ownership changes need the user's rights, and what the API creates belongs to the
// user with normal permissions. The sandbox user here is `nobody`; the daemon runs in this
// process and must be root (as it is in a sandbox), so the suite is skipped otherwise.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { FilesystemService } from "@cove/gen-ts/cove/toolbox/v1/filesystem_service_pb.js";
import { ProcessService } from "@cove/gen-ts/cove/toolbox/v1/process_service_pb.js";
import { ErrorInfoSchema } from "@cove/gen-ts/google/rpc/error_details_pb.js";
import { defaultLimits } from "../src/config.js";
import { createUnixTransport, startTestDaemon, type TestDaemon } from "./harness.js";

const isRoot = process.getuid?.() === 0;
if (!isRoot)
  console.warn("Skipping the filesystem identity tests: they need root (as in a sandbox)");
const describeAsRoot = isRoot ? describe : describe.skip;

const NOBODY = 65534;

/** helperPids lists the filesystem helpers running as nobody. */
function helperPids(): number[] {
  return execFileSync("ps", ["-o", "pid=,args=", "-u", String(NOBODY)], { encoding: "utf8" })
    .split("\n")
    .filter((line) => line.includes("filesystem-helper"))
    .map((line) => Number(line.trim().split(/\s+/)[0]));
}

async function waitUntil(check: () => boolean, what: string, timeoutMs = 10_000) {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describeAsRoot("filesystem calls of a root daemon with a sandbox user", () => {
  let daemon: TestDaemon;
  let files: ReturnType<typeof clientOf>;
  let secrets: string;
  let shadow: string;
  const clientOf = (d: TestDaemon) => d.client(FilesystemService);

  /** sh runs a command in the sandbox as its user (nobody), like sandbox code would. */
  const sh = async (command: string) => {
    const res = await daemon.client(ProcessService).exec({
      program: { case: "command", value: command },
      cwd: daemon.home,
    });
    if (res.exitCode !== 0) throw new Error(`${command}: ${Buffer.from(res.stderr)}`);
    return Buffer.from(res.stdout).toString();
  };

  beforeAll(async () => {
    daemon = await startTestDaemon({ defaultUser: "nobody" });
    // The sandbox user owns its home, as in a sandbox.
    fs.chmodSync(path.dirname(daemon.home), 0o711);
    fs.chownSync(daemon.home, NOBODY, NOBODY);
    files = clientOf(daemon);
    // A stand-in for /etc: root's, readable by all but one file (the "shadow") only by root.
    secrets = fs.mkdtempSync(path.join(os.tmpdir(), "cove-identity-etc-"));
    fs.chmodSync(secrets, 0o755);
    shadow = path.join(secrets, "shadow");
    fs.writeFileSync(shadow, "root:secret\n", { mode: 0o600 });
    fs.writeFileSync(path.join(secrets, "motd"), "hello\n", { mode: 0o644 });
  }, 60_000);
  afterAll(async () => {
    await daemon?.close();
    if (secrets) fs.rmSync(secrets, { recursive: true, force: true });
  });

  async function failure(call: Promise<unknown>) {
    try {
      await call;
    } catch (err) {
      if (!(err instanceof ConnectError)) throw err;
      return { code: err.code, reason: err.findDetails(ErrorInfoSchema)[0]?.reason ?? "" };
    }
    throw new Error("the call succeeded but should have failed");
  }
  const denied = { code: Code.PermissionDenied, reason: "PERMISSION_DENIED" };
  const mode = (p: string) => fs.statSync(p).mode & 0o7777;

  test("SetPermissions on a planted symlink to a root file is denied and changes nothing", async () => {
    // The probe: as the sandbox user, `ln -sf /etc/shadow ~/x`, then SetPermissions ~/x 0666.
    await sh(`ln -sf ${shadow} x`);
    expect(await failure(files.setPermissions({ path: "x", mode: 0o666 }))).toEqual(denied);
    expect(await failure(files.setPermissions({ path: "x", owner: "root" }))).toEqual(denied);
    expect(mode(shadow)).toBe(0o600);
    expect(fs.statSync(shadow).uid).toBe(0);
  });

  test("reads and writes through a planted symlink are the user's: denied for a root file", async () => {
    await sh(`ln -sf ${shadow} y`);
    expect(await failure(files.writeFile({ path: "y", data: Buffer.from("pwned\n") }))).toEqual(
      denied,
    );
    const read = (async () => {
      for await (const _ of files.readFile({ path: "y" })) {
        // nothing may arrive
      }
    })();
    expect(await failure(read)).toEqual(denied);
    expect(fs.readFileSync(shadow, "utf8")).toBe("root:secret\n");
    // A file the user may read is read through a symlink as before.
    await sh(`ln -sf ${path.join(secrets, "motd")} motd`);
    const parts: Uint8Array[] = [];
    for await (const m of files.readFile({ path: "motd" })) parts.push(m.data);
    expect(Buffer.concat(parts).toString()).toBe("hello\n");
  });

  test("an intermediate symlink to a root directory gives no more than the user has there", async () => {
    await sh(`ln -sfn ${secrets} etc`);
    expect(await failure(files.writeFile({ path: "etc/new", data: Buffer.from("x") }))).toEqual(
      denied,
    );
    expect(await failure(files.makeDir({ path: "etc/dir" }))).toEqual(denied);
    expect(await failure(files.remove({ path: "etc/motd" }))).toEqual(denied);
    expect(
      await failure(files.move({ source: "etc/motd", destination: "stolen", overwrite: false })),
    ).toEqual(denied);
    expect(await failure(files.setPermissions({ path: "etc/motd", mode: 0o666 }))).toEqual(denied);
    expect(fs.readdirSync(secrets).sort()).toEqual(["motd", "shadow"]);
    expect(mode(path.join(secrets, "motd"))).toBe(0o644);
  });

  test("a recursive SetPermissions does not reach through symlinks inside the tree", async () => {
    await sh(`mkdir -p tree/sub && echo a > tree/sub/a && ln -sf ${shadow} tree/sub/link`);
    await files.setPermissions({ path: "tree", mode: 0o700, recursive: true }).catch(() => {});
    expect(mode(shadow)).toBe(0o600);
    expect(mode(path.join(daemon.home, "tree", "sub", "a"))).toBe(0o700);
  });

  test("giving a file away needs the user's rights: PERMISSION_DENIED", async () => {
    await files.writeFile({ path: "mine.txt", data: Buffer.from("x") });
    expect(await failure(files.setPermissions({ path: "mine.txt", owner: "root" }))).toEqual(
      denied,
    );
    expect(fs.statSync(path.join(daemon.home, "mine.txt")).uid).toBe(NOBODY);
  });

  test("what the API creates belongs to the sandbox user, with normal permissions", async () => {
    const written = await files.writeFile({ path: "made/by/api.txt", data: Buffer.from("x") });
    expect(written.info?.owner).toBe("nobody");
    async function* upload() {
      yield { message: { case: "header" as const, value: { path: "uploaded.bin" } } };
      yield { message: { case: "data" as const, value: Buffer.from("data") } };
    }
    await files.uploadFile(upload());
    await files.makeDir({ path: "dir" });
    for (const [rel, want] of [
      ["made", 0o755],
      ["made/by", 0o755],
      ["made/by/api.txt", 0o644],
      ["uploaded.bin", 0o644],
      ["dir", 0o755],
    ] as const) {
      const st = fs.statSync(path.join(daemon.home, rel));
      expect([rel, st.uid, st.gid, st.mode & 0o7777]).toEqual([rel, NOBODY, NOBODY, want]);
    }
    // Outside the user's reach, nothing is created at all.
    expect(
      await failure(files.writeFile({ path: path.join(secrets, "x"), data: Buffer.from("x") })),
    ).toEqual(denied);
  });

  test("the helper's own socket (the gateway's way in) is root's only and acts as the user", async () => {
    const socket = path.join(path.dirname(daemon.socketPath), "filesystem.sock");
    const st = fs.lstatSync(socket);
    expect([st.isSocket(), st.uid, st.mode & 0o777]).toEqual([true, 0, 0o600]);
    const direct = createClient(FilesystemService, createUnixTransport(socket));
    await sh(`ln -sf ${shadow} z`);
    expect(await failure(direct.setPermissions({ path: "z", mode: 0o666 }))).toEqual(denied);
    expect(mode(shadow)).toBe(0o600);
    const { info } = await direct.writeFile({ path: "direct.txt", data: Buffer.from("d") });
    expect(info?.owner).toBe("nobody");
  });

  test("an unused helper stops, and the next call starts it again", async () => {
    const d = await startTestDaemon({
      defaultUser: "nobody",
      limits: { ...defaultLimits, filesystemHelperIdleMs: 500 },
    });
    try {
      fs.chmodSync(path.dirname(d.home), 0o711);
      fs.chownSync(d.home, NOBODY, NOBODY);
      const c = clientOf(d);
      await c.writeFile({ path: "a.txt", data: Buffer.from("a") });
      const running = () => helperPids().length;
      const before = running();
      await waitUntil(() => running() < before, "the idle helper to stop");
      expect((await c.stat({ path: "a.txt" })).info?.owner).toBe("nobody");
    } finally {
      await d.close();
    }
  });

  test("the helper runs as the sandbox user, and comes back after it is killed", async () => {
    const helpers = helperPids();
    expect(helpers.length).toBeGreaterThanOrEqual(1);
    for (const pid of helpers) process.kill(pid, "SIGKILL");
    await new Promise((r) => setTimeout(r, 1_100)); // the restart delay
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        const { info } = await files.stat({ path: "mine.txt" });
        expect(info?.owner).toBe("nobody");
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  });
});
