import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { CoveError } from "@cove/common";
import { Client, type ClientChannel, type ConnectConfig, type ExecOptions } from "ssh2";
import {
  routeFor,
  run,
  type SshWorld,
  spawnClient,
  ssh,
  startSshWorld,
  waitFor,
} from "./ssh-harness.js";

/** SSH_OPEN_ADMINISTRATIVELY_PROHIBITED (RFC 4254 §5.1). */
const ADMINISTRATIVELY_PROHIBITED = 1;

let world: SshWorld;
let port: number;

beforeAll(async () => {
  world = await startSshWorld();
  port = world.ssh.port;
  fs.writeFileSync(path.join(world.a.home, "marker"), "this is sandbox A\n");
  fs.writeFileSync(path.join(world.b.home, "marker"), "this is sandbox B\n");
  world.resolver.tokens.set(
    "tok-expired",
    new CoveError("unauthenticated", "TOKEN_EXPIRED", "the SSH token has expired"),
  );
  world.resolver.tokens.set(
    "tok-revoked",
    new CoveError("unauthenticated", "TOKEN_INVALID", "the SSH token was revoked"),
  );
  world.resolver.tokens.set(
    "tok-foreign",
    new CoveError("notFound", "SANDBOX_NOT_FOUND", "sandbox sbx-other not found"),
  );
}, 60_000);

afterEach(async () => {
  // Every session a test opened has ended: no call through the runner's gateway is left open.
  await waitFor(
    () => world.toolbox.activeCalls("sbx-a") + world.toolbox.activeCalls("sbx-b") === 0,
    "calls through the runner's gateway to end",
    5_000,
  ).catch(() => {
    throw new Error(
      `calls left open: a=${world.toolbox.activeCalls("sbx-a")} b=${world.toolbox.activeCalls("sbx-b")}`,
    );
  });
});

afterAll(async () => {
  await world.close();
});

/** connectClient opens an ssh2 client connection with a token as the username. */
function connectClient(
  token: string,
  gatewayPort = port,
  extra: Partial<ConnectConfig> = {},
): Promise<Client> {
  // strictVendor off: ssh2 would otherwise refuse to even send OpenSSH extensions to a server
  // that does not call itself OpenSSH, and the tests want to see the gateway refuse them.
  return new Promise((resolve, reject) => {
    const client = new Client();
    client.once("ready", () => resolve(client));
    client.once("error", reject);
    client.connect({
      host: "127.0.0.1",
      port: gatewayPort,
      username: token,
      readyTimeout: 10_000,
      strictVendor: false,
      ...extra,
    });
  });
}

/** Screen collects what a channel prints and waits for text to appear. */
class Screen {
  text = "";
  stderr = "";
  exit: { code: number | null; signal?: string } | undefined;
  closed = false;
  constructor(readonly channel: ClientChannel) {
    channel.on("data", (chunk: Buffer) => {
      this.text += chunk.toString("utf8");
    });
    channel.stderr.on("data", (chunk: Buffer) => {
      this.stderr += chunk.toString("utf8");
    });
    channel.on("exit", (code: number | null, signal?: string) => {
      this.exit = { code, signal };
    });
    channel.on("close", () => {
      this.closed = true;
    });
  }
  async sees(pattern: RegExp): Promise<RegExpMatchArray> {
    await waitFor(() => pattern.test(this.text), `${pattern} in ${JSON.stringify(this.text)}`);
    return this.text.match(pattern) as RegExpMatchArray;
  }
}

function shell(client: Client, window: { cols: number; rows: number; term?: string }) {
  return new Promise<ClientChannel>((resolve, reject) => {
    client.shell(
      { term: window.term ?? "xterm", cols: window.cols, rows: window.rows },
      (err, ch) => (err ? reject(err) : resolve(ch)),
    );
  });
}

function exec(client: Client, command: string, options: ExecOptions = {}) {
  return new Promise<ClientChannel>((resolve, reject) => {
    client.exec(command, options, (err, ch) => (err ? reject(err) : resolve(ch)));
  });
}

describe("commands", () => {
  test("a command's output comes back and its exit code is ssh's exit code", async () => {
    const result = await ssh(port, "tok-a", "cat marker; echo to-stderr >&2; exit 3");
    expect(result.stdout.toString()).toBe("this is sandbox A\n");
    expect(result.stderr).toBe("to-stderr\n");
    expect(result.code).toBe(3);
  });

  test("stdin is piped to the remote command byte for byte, and EOF ends it", async () => {
    const input = crypto.randomBytes(3 * 1024 * 1024);
    const result = await ssh(port, "tok-a", "cat", input);
    expect(result.code).toBe(0);
    expect(result.stdout.length).toBe(input.length);
    expect(result.stdout.equals(input)).toBe(true);
  });

  test("a client that stops reading holds the command back and then gets every byte", async () => {
    const client = await connectClient("tok-a");
    try {
      const total = 64 * 1024 * 1024;
      const channel = await exec(
        client,
        `head -c ${total} /dev/urandom > big.bin && sha256sum big.bin >&2 && cat big.bin; rm big.bin`,
      );
      const screen = new Screen(channel);
      const hash = crypto.createHash("sha256");
      let received = 0;
      channel.removeAllListeners("data");
      channel.on("data", (chunk: Buffer) => {
        received += chunk.length;
        hash.update(chunk);
      });
      // Stop reading: the SSH window closes, the gateway stops reading the daemon, and the
      // daemon pauses the command's pipe rather than drop output.
      channel.pause();
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      expect(received).toBeLessThan(total);
      channel.resume();
      await waitFor(() => screen.closed, "the command to finish", 30_000);
      expect(received).toBe(total);
      expect(screen.stderr).not.toMatch(/dropped/);
      expect(screen.stderr.trim()).toBe(`${hash.digest("hex")}  big.bin`);
      expect(screen.exit?.code).toBe(0);
    } finally {
      client.end();
    }
  }, 45_000);

  test("a command that never reads stdin still ends", async () => {
    const result = await ssh(port, "tok-a", "echo done");
    expect(result).toMatchObject({ code: 0 });
    expect(result.stdout.toString()).toBe("done\n");
  });

  test("variables sent with SetEnv reach the command", async () => {
    const result = await ssh(port, "tok-a", 'printf %s "$COVE_GREETING"', undefined, [
      "-o",
      "SetEnv=COVE_GREETING=hello-there",
    ]);
    expect(result.stdout.toString()).toBe("hello-there");
  });

  test("a shell without a terminal reads commands from stdin", async () => {
    const result = await ssh(port, "tok-a", "", "echo $((2+3))\nexit 6\n", ["-T"]);
    expect(result.stdout.toString()).toBe("5\n");
    expect(result.code).toBe(6);
  });

  test("ssh -tt drives an interactive shell on a PTY", async () => {
    const result = await ssh(port, "tok-a", "", "echo $((6*7))\nexit 4\n", ["-tt"]);
    expect(result.stdout.toString()).toMatch(/^42\r?$/m);
    expect(result.code).toBe(4);
  });

  test("a token only ever reaches its own sandbox", async () => {
    const a = await ssh(port, "tok-a", "cat marker");
    const b = await ssh(port, "tok-b", "cat marker");
    expect(a.stdout.toString()).toBe("this is sandbox A\n");
    expect(b.stdout.toString()).toBe("this is sandbox B\n");
  });
});

describe("refused logins", () => {
  test.each([
    ["an expired token", "tok-expired"],
    ["a revoked token", "tok-revoked"],
    ["another organization's sandbox token", "tok-foreign"],
    ["an unknown token", "tok-nonsense"],
  ])("%s is refused without detail and runs nothing", async (_what, token) => {
    const before = fs.readdirSync(world.a.home).length;
    const result = await ssh(port, token, "touch pwned-by-ssh");
    expect(result.code).toBe(255);
    // The same words for every refusal: nothing says why, or which sandbox.
    expect(result.stderr).toBe(
      `${token}@127.0.0.1: Permission denied (password,keyboard-interactive).\r\n`,
    );
    expect(fs.existsSync(path.join(world.a.home, "pwned-by-ssh"))).toBe(false);
    expect(fs.existsSync(path.join(world.b.home, "pwned-by-ssh"))).toBe(false);
    expect(fs.readdirSync(world.a.home).length).toBe(before);
    // The resolver was asked with the token, as an SSH credential.
    expect(world.resolver.queries.at(-1)).toMatchObject({
      sandboxId: "",
      access: "ssh",
      credential: { kind: "sshToken", secret: token },
    });
  });

  test("a password is ignored: the username is the credential", async () => {
    await expect(
      new Promise((resolve, reject) => {
        const client = new Client();
        client.once("ready", () => {
          client.end();
          resolve("ready");
        });
        client.once("error", reject);
        client.connect({
          host: "127.0.0.1",
          port,
          username: "tok-revoked",
          password: "tok-a",
          readyTimeout: 10_000,
        });
      }),
    ).rejects.toThrow(/authentication methods failed/);
  });
});

describe("port forwarding and agents are refused", () => {
  /** listener records every connection made to it. */
  async function listener() {
    const accepted: net.Socket[] = [];
    const server = net.createServer((socket) => {
      accepted.push(socket);
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const listenPort = (server.address() as net.AddressInfo).port;
    return {
      port: listenPort,
      accepted,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  }

  function freePort(): Promise<number> {
    return new Promise((resolve) => {
      const server = net.createServer();
      server.listen(0, "127.0.0.1", () => {
        const p = (server.address() as net.AddressInfo).port;
        server.close(() => resolve(p));
      });
    });
  }

  test("ssh -L: the channel is refused and nothing is connected", async () => {
    const target = await listener();
    const localPort = await freePort();
    const child = spawnClient(
      "ssh",
      [
        "-N",
        "-o",
        "ExitOnForwardFailure=yes",
        "-L",
        `${localPort}:127.0.0.1:${target.port}`,
        "-p",
        String(port),
        "tok-a@127.0.0.1",
      ],
      "INFO",
    );
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    try {
      // Wait until ssh listens locally, then use the forward once.
      let received = "";
      await waitFor(
        () =>
          new Promise<boolean>((resolve) => {
            const socket = net.connect(localPort, "127.0.0.1");
            socket.on("data", (chunk) => {
              received += chunk.toString();
            });
            socket.on("error", () => resolve(false));
            socket.on("connect", () => {
              socket.write("GET / HTTP/1.0\r\n\r\n");
              socket.on("close", () => resolve(true));
            });
          }),
        "ssh's local forward to accept a connection",
      );
      await waitFor(() => /administratively prohibited/.test(stderr), "ssh to report the refusal");
      expect(received).toBe("");
      expect(target.accepted).toHaveLength(0);
    } finally {
      child.kill("SIGTERM");
      await target.close();
    }
  });

  test("ssh -R: the remote forward is refused and ssh exits", async () => {
    const target = await listener();
    const result = await run("ssh", [
      "-N",
      "-o",
      "ExitOnForwardFailure=yes",
      "-R",
      `0:127.0.0.1:${target.port}`,
      "-p",
      String(port),
      "tok-a@127.0.0.1",
    ]);
    expect(result.code).toBe(255);
    expect(result.stderr).toMatch(/remote port forwarding failed/);
    expect(target.accepted).toHaveLength(0);
    await target.close();
  });

  test("forwarding, socket forwarding, X11 and agent requests over ssh2 all fail", async () => {
    const target = await listener();
    const client = await connectClient("tok-a");
    // An agent socket that does not exist: this client only has to ask for forwarding, which
    // it does with every exec.
    const withAgent = await connectClient("tok-a", port, {
      agent: path.join(world.scratch, "no-agent.sock"),
      agentForward: true,
    });
    try {
      await expect(
        new Promise((resolve, reject) =>
          client.forwardOut("127.0.0.1", 1234, "127.0.0.1", target.port, (err, ch) =>
            err ? reject(err) : resolve(ch),
          ),
        ),
      ).rejects.toMatchObject({ reason: ADMINISTRATIVELY_PROHIBITED });
      await expect(
        new Promise((resolve, reject) =>
          client.forwardIn("127.0.0.1", 0, (err, p) => (err ? reject(err) : resolve(p))),
        ),
      ).rejects.toThrow(/unable to bind|failure|denied/i);
      await expect(
        new Promise((resolve, reject) =>
          client.openssh_forwardOutStreamLocal("/run/cove/daemon.sock", (err, ch) =>
            err ? reject(err) : resolve(ch),
          ),
        ),
      ).rejects.toMatchObject({ reason: ADMINISTRATIVELY_PROHIBITED });
      await expect(
        new Promise((resolve, reject) =>
          client.openssh_forwardInStreamLocal("/tmp/cove-ssh-test.sock", (err) =>
            err ? reject(err) : resolve(undefined),
          ),
        ),
      ).rejects.toThrow();
      await expect(exec(client, "true", { x11: true })).rejects.toThrow(/X11/i);
      await expect(exec(withAgent, "true")).rejects.toThrow(/Unable to request agent forwarding/);
      expect(target.accepted).toHaveLength(0);
      // The connection is still usable after the refusals.
      const screen = new Screen(await exec(client, "echo still-here"));
      await screen.sees(/still-here/);
    } finally {
      client.end();
      withAgent.end();
      await target.close();
    }
  });
});

describe("terminals with the ssh2 client", () => {
  test("a shell on a PTY has the requested size, follows window changes and exits", async () => {
    const client = await connectClient("tok-a");
    try {
      const channel = await shell(client, { cols: 100, rows: 30, term: "vt100" });
      const screen = new Screen(channel);
      channel.write("stty size; echo TERM=$TERM; echo $((6*7))\n");
      await screen.sees(/^30 100\r?$/m);
      await screen.sees(/^TERM=vt100\r?$/m);
      await screen.sees(/^42\r?$/m);
      channel.setWindow(40, 120, 0, 0);
      channel.write("stty size\n");
      await screen.sees(/^40 120\r?$/m);
      channel.write("exit 5\n");
      await waitFor(() => screen.closed, "the channel to close");
      expect(screen.exit).toEqual({ code: 5, signal: undefined });
    } finally {
      client.end();
    }
  });

  test("exec after pty-req runs the command on a terminal", async () => {
    const client = await connectClient("tok-a");
    try {
      const screen = new Screen(
        await exec(client, "tty; test -t 0 && echo on-a-tty", { pty: true }),
      );
      await waitFor(() => screen.closed, "the command to finish");
      expect(screen.text).toMatch(/^\/dev\/pts\/\d+\r?$/m);
      expect(screen.text).toMatch(/on-a-tty/);
      expect(screen.exit?.code).toBe(0);
    } finally {
      client.end();
    }
  });

  test("a command killed by a signal reports exit-signal; env requests reach it", async () => {
    const client = await connectClient("tok-a");
    try {
      const screen = new Screen(
        await exec(client, 'echo "$COVE_VAR"; kill -TERM $$', { env: { COVE_VAR: "from-env" } }),
      );
      await waitFor(() => screen.closed, "the command to finish");
      expect(screen.text).toBe("from-env\n");
      expect(screen.exit).toMatchObject({ code: null, signal: "SIGTERM" });
    } finally {
      client.end();
    }
  });

  test("a client's signal request reaches the command", async () => {
    const client = await connectClient("tok-a");
    try {
      const channel = await exec(
        client,
        "trap 'echo got-int; exit 7' INT; echo ready; sleep 30 & wait",
      );
      const screen = new Screen(channel);
      await screen.sees(/ready/);
      channel.signal("INT");
      await waitFor(() => screen.closed, "the command to finish");
      expect(screen.text).toMatch(/got-int/);
      expect(screen.exit?.code).toBe(7);
    } finally {
      client.end();
    }
  });
});

describe("files with scp and sftp", () => {
  test("scp copies a 5 MiB file in and out byte for byte", async () => {
    const original = crypto.randomBytes(5 * 1024 * 1024);
    const local = path.join(world.scratch, "upload.bin");
    const back = path.join(world.scratch, "download.bin");
    fs.writeFileSync(local, original);
    const up = await run("scp", ["-P", String(port), local, "tok-a@127.0.0.1:uploaded.bin"]);
    expect(up.stderr).toBe("");
    expect(up.code).toBe(0);
    const remote = fs.readFileSync(path.join(world.a.home, "uploaded.bin"));
    expect(remote.equals(original)).toBe(true);
    const down = await run("scp", ["-P", String(port), "tok-a@127.0.0.1:uploaded.bin", back]);
    expect(down.code).toBe(0);
    expect(fs.readFileSync(back).equals(original)).toBe(true);
  }, 60_000);

  test("scp to a missing directory fails and leaves nothing behind", async () => {
    const local = path.join(world.scratch, "small.txt");
    fs.writeFileSync(local, "small\n");
    const result = await run("scp", ["-P", String(port), local, "tok-a@127.0.0.1:no/such/dir/x"]);
    expect(result.code).not.toBe(0);
    expect(fs.existsSync(path.join(world.a.home, "no"))).toBe(false);
  });

  test("sftp -b runs mkdir, put, ls, get, rename, chmod, rm and rmdir", async () => {
    const local = path.join(world.scratch, "notes.txt");
    const fetched = path.join(world.scratch, "notes-back.txt");
    fs.writeFileSync(local, "line one\nline two\n");
    const batch = path.join(world.scratch, "batch.sftp");
    fs.writeFileSync(
      batch,
      [
        "mkdir work",
        "cd work",
        `put ${local} notes.txt`,
        "ls -l",
        `get notes.txt ${fetched}`,
        "rename notes.txt renamed.txt",
        "chmod 600 renamed.txt",
        "ls",
        "pwd",
        "",
      ].join("\n"),
    );
    const first = await run("sftp", ["-b", batch, "-P", String(port), "tok-a@127.0.0.1"]);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    const listing = first.stdout.toString();
    expect(listing).toMatch(/-rw-r--r-- .* 18 .* notes\.txt/);
    expect(listing).toMatch(/renamed\.txt/);
    expect(listing).toContain(`Remote working directory: ${path.join(world.a.home, "work")}`);
    expect(fs.readFileSync(fetched, "utf8")).toBe("line one\nline two\n");
    const stored = path.join(world.a.home, "work", "renamed.txt");
    expect(fs.readFileSync(stored, "utf8")).toBe("line one\nline two\n");
    expect(fs.statSync(stored).mode & 0o777).toBe(0o600);

    fs.writeFileSync(batch, ["rm work/renamed.txt", "rmdir work", ""].join("\n"));
    const second = await run("sftp", ["-b", batch, "-P", String(port), "tok-a@127.0.0.1"]);
    expect(second.code).toBe(0);
    expect(fs.existsSync(path.join(world.a.home, "work"))).toBe(false);
  }, 60_000);

  test("sftp reports missing files and refuses rmdir on a file", async () => {
    const batch = path.join(world.scratch, "bad.sftp");
    fs.writeFileSync(batch, "get does-not-exist\n");
    const missing = await run("sftp", ["-b", batch, "-P", String(port), "tok-a@127.0.0.1"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/not found|No such file/i);
    fs.writeFileSync(batch, "rmdir marker\n");
    const notDir = await run("sftp", ["-b", batch, "-P", String(port), "tok-a@127.0.0.1"]);
    expect(notDir.code).toBe(1);
    expect(fs.existsSync(path.join(world.a.home, "marker"))).toBe(true);
  });

  test("sftp resumes an upload (reput) by appending to the existing file", async () => {
    const whole = crypto.randomBytes(300_000);
    const local = path.join(world.scratch, "resume.bin");
    fs.writeFileSync(local, whole);
    fs.writeFileSync(path.join(world.a.home, "resume.bin"), whole.subarray(0, 100_000));
    const batch = path.join(world.scratch, "resume.sftp");
    fs.writeFileSync(batch, `reput ${local} resume.bin\n`);
    const result = await run("sftp", ["-b", batch, "-P", String(port), "tok-a@127.0.0.1"]);
    expect(result.code).toBe(0);
    expect(fs.readFileSync(path.join(world.a.home, "resume.bin")).equals(whole)).toBe(true);
  });
});

describe("invalidation", () => {
  test("revoking the token ends an open session", async () => {
    world.resolver.tokens.set("tok-short", routeFor("sbx-a", world.toolbox.url, "cred-short"));
    const client = await connectClient("tok-short");
    const channel = await shell(client, { cols: 80, rows: 24 });
    const screen = new Screen(channel);
    channel.write("echo alive\n");
    await screen.sees(/^alive\r?$/m);
    let ended = false;
    client.on("close", () => {
      ended = true;
    });
    world.resolver.invalidate({ credentialId: "cred-short" });
    await waitFor(() => screen.closed && ended, "the session to end");
    expect(screen.stderr + screen.text).toMatch(/revoked or the sandbox stopped/);
  });

  test("stopping the sandbox ends its sessions and leaves other sandboxes' alone", async () => {
    const onA = await connectClient("tok-a");
    const onB = await connectClient("tok-b");
    const a = new Screen(await shell(onA, { cols: 80, rows: 24 }));
    const b = new Screen(await shell(onB, { cols: 80, rows: 24 }));
    world.resolver.invalidate({ sandboxId: "sbx-a" });
    await waitFor(() => a.closed, "sandbox A's session to end");
    b.channel.write("echo b-alive\n");
    await b.sees(/^b-alive\r?$/m);
    expect(b.closed).toBe(false);
    onB.end();
    onA.end();
  });
});

test("the host key is generated once, kept 0600, and reused", async () => {
  const key = fs.readFileSync(world.hostKeyPath, "utf8");
  expect(key).toMatch(/BEGIN OPENSSH PRIVATE KEY/);
  expect(fs.statSync(world.hostKeyPath).mode & 0o777).toBe(0o600);
  const again = await world.startGateway({});
  expect(fs.readFileSync(world.hostKeyPath, "utf8")).toBe(key);
  const seen: string[] = [];
  for (const gatewayPort of [port, again.port]) {
    await new Promise<void>((resolve, reject) => {
      const client = new Client();
      client.once("ready", () => {
        client.end();
        resolve();
      });
      client.once("error", reject);
      client.connect({
        host: "127.0.0.1",
        port: gatewayPort,
        username: "tok-a",
        hostVerifier: (hostKey: Buffer) => {
          seen.push(hostKey.toString("base64"));
          return true;
        },
      });
    });
  }
  expect(seen).toHaveLength(2);
  expect(seen[0]).toBe(seen[1]);
});
