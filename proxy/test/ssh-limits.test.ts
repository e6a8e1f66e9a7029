import * as net from "node:net";
import { CoveError } from "@cove/common";
import { Client, type ClientChannel } from "ssh2";
import {
  FakeResolver,
  routeFor,
  type SshWorld,
  ssh,
  startSshWorld,
  waitFor,
} from "./ssh-harness.js";

let world: SshWorld;

beforeAll(async () => {
  world = await startSshWorld();
}, 60_000);

afterAll(async () => {
  await world.close();
});

/** connect opens an ssh2 connection; it resolves with the client or rejects with the error. */
function connect(port: number, token: string): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    client.once("ready", () => resolve(client));
    client.once("error", reject);
    client.once("close", () => reject(new Error("closed before authentication")));
    client.connect({ host: "127.0.0.1", port, username: token, readyTimeout: 10_000 });
  });
}

function exec(client: Client, command: string): Promise<ClientChannel> {
  return new Promise((resolve, reject) =>
    client.exec(command, (err, channel) => (err ? reject(err) : resolve(channel))),
  );
}

/** output runs a command on an open connection and returns its stdout. */
async function output(client: Client, command: string): Promise<string> {
  const channel = await exec(client, command);
  let text = "";
  channel.on("data", (chunk: Buffer) => {
    text += chunk.toString();
  });
  await new Promise((resolve) => channel.on("close", resolve));
  return text;
}

test("failed logins from one address are throttled: even a valid token is then refused", async () => {
  const resolver = new FakeResolver();
  resolver.tokens.set("tok-a", routeFor("sbx-a", world.toolbox.url, "cred-a"));
  const gateway = await world.startGateway({ maxAuthFailuresPerIp: 3 }, resolver);
  for (const token of ["guess-1", "guess-2", "guess-3"]) {
    const result = await ssh(gateway.port, token, "true");
    expect(result.code).toBe(255);
  }
  const result = await ssh(gateway.port, "tok-a", "echo in");
  expect(result.code).toBe(255);
  expect(result.stdout.toString()).toBe("");
  // The throttled attempt never reached the server.
  expect(resolver.tokenQueries("tok-a")).toBe(0);
  // Another gateway (another address's budget, as far as the test can tell) still lets it in.
  const fine = await ssh(world.ssh.port, "tok-a", "echo in");
  expect(fine.stdout.toString()).toBe("in\n");
});

test("a connection that does not authenticate in time is dropped", async () => {
  const gateway = await world.startGateway({ authTimeoutMs: 300 });
  const socket = net.connect(gateway.port, "127.0.0.1");
  let banner = "";
  socket.on("data", (chunk) => {
    banner += chunk.toString("latin1");
  });
  const started = Date.now();
  await new Promise((resolve) => socket.on("close", resolve));
  expect(banner).toMatch(/^SSH-2\.0-Cove/);
  expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  expect(Date.now() - started).toBeLessThan(5_000);
});

test("a connection that sends part of its version line and then nothing is dropped in time", async () => {
  const gateway = await world.startGateway({ authTimeoutMs: 300 });
  const socket = net.connect(gateway.port, "127.0.0.1");
  socket.on("error", () => {});
  socket.resume();
  await new Promise((resolve) => socket.once("connect", resolve));
  socket.write("SSH-2.0-slow");
  const started = Date.now();
  await new Promise((resolve) => socket.on("close", resolve));
  expect(Date.now() - started).toBeGreaterThanOrEqual(200);
  expect(Date.now() - started).toBeLessThan(5_000);
});

test("sessions per connection are capped; a closed one frees its slot", async () => {
  const gateway = await world.startGateway({ maxSessionsPerConnection: 2 });
  const client = await connect(gateway.port, "tok-a");
  try {
    const first = await exec(client, "sleep 30");
    await exec(client, "sleep 30");
    await expect(exec(client, "echo third")).rejects.toThrow();
    first.close();
    await waitFor(async () => {
      try {
        return (await output(client, "echo again")) === "again\n";
      } catch {
        return false;
      }
    }, "a session slot to free up");
  } finally {
    client.end();
  }
});

test("connections beyond the gateway's limit are turned away before authentication", async () => {
  const gateway = await world.startGateway({ maxConnections: 1 });
  const first = await connect(gateway.port, "tok-a");
  try {
    await expect(connect(gateway.port, "tok-a")).rejects.toThrow();
    expect(gateway.connectionCount()).toBe(1);
  } finally {
    first.end();
  }
  await waitFor(() => gateway.connectionCount() === 0, "the first connection to go");
  const again = await connect(gateway.port, "tok-a");
  again.end();
});

test("an idle connection is closed and told why", async () => {
  const gateway = await world.startGateway({ idleTimeoutMs: 400 });
  const client = await connect(gateway.port, "tok-a");
  const channel = await new Promise<ClientChannel>((resolve, reject) =>
    client.shell({ cols: 80, rows: 24 }, (err, ch) => (err ? reject(err) : resolve(ch))),
  );
  let text = "";
  channel.on("data", (chunk: Buffer) => {
    text += chunk.toString();
  });
  channel.stderr.on("data", (chunk: Buffer) => {
    text += chunk.toString();
  });
  const closed = new Promise<void>((resolve) => client.on("close", () => resolve()));
  const started = Date.now();
  await closed;
  expect(Date.now() - started).toBeLessThan(5_000);
  expect(text).toMatch(/cove: idle timeout/);
});

test("once a route's cache time passes, new channels ask again and a revoked token gets none", async () => {
  const resolver = new FakeResolver();
  const route = { ...routeFor("sbx-a", world.toolbox.url, "cred-a"), expiresAt: Date.now() - 1 };
  resolver.tokens.set("tok-stale", route);
  const gateway = await world.startGateway({}, resolver);
  const client = await connect(gateway.port, "tok-stale");
  try {
    expect(await output(client, "echo first")).toBe("first\n");
    expect(resolver.tokenQueries("tok-stale")).toBe(2); // login, then the channel
    resolver.tokens.set(
      "tok-stale",
      new CoveError("unauthenticated", "TOKEN_INVALID", "the SSH token was revoked"),
    );
    await expect(exec(client, "echo second")).rejects.toThrow();
  } finally {
    client.end();
  }
});
