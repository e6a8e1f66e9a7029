// Egress policies end to end on the real engine: sandboxes made by the Docker driver with the
// sandbox network's hooks, policies changed while they run, and every way out a sandbox user
// tries — raw IPs, private and metadata addresses, the host's own addresses, IPv6, other
// sandboxes, other resolvers, DNS rebinding, changing the sandbox's own network as root. All
// traffic goes to the lab (net-lab.ts): namespaces, veths and servers this test creates.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { createClient, type Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createLogger } from "@cove/common";
import { ProcessService } from "@cove/gen-ts/cove/toolbox/v1/process_service_pb.js";
import Dockerode from "dockerode";
import { buildKit } from "../../daemon/scripts/build-kit.mjs";
import { ensureBaseImage } from "../../scripts/build-base-image.mjs";
import { DockerDriver } from "../src/domain/docker-driver.js";
import type { SandboxSpec } from "../src/domain/sandbox-driver.js";
import type { EgressPolicy } from "../src/network/egress-policy.js";
import { createNft } from "../src/network/nft.js";
import { SandboxNetwork } from "../src/network/sandbox-network.js";
import { LAB, type NetLab, SANDBOX_SUBNET, startNetLab } from "./net-lab.js";

const testLabel = { "dev.cove.test": "egress" };

function unreachableReason(): string | undefined {
  if (process.getuid?.() !== 0) return "not root (namespaces and nft need root)";
  const docker = spawnSync("docker", ["info", "--format", "{{.ServerVersion}}"], {
    timeout: 15_000,
  });
  if (docker.status !== 0) return "the Docker engine is not reachable";
  if (spawnSync("nft", ["--version"]).status !== 0)
    return "nft is not installed (Debian package nftables)";
  return undefined;
}
const unreachable = unreachableReason();
const required = process.env.COVE_REQUIRE_DOCKER === "1";
if (unreachable !== undefined && !required)
  console.warn(`Skipping the egress tests: ${unreachable}`);
const describeEgress = unreachable !== undefined && !required ? describe.skip : describe;

const run = randomBytes(3).toString("hex");
const sid = (name: string) => `eg${run}${name}`;
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

function unixTransport(socketPath: string): Transport {
  return createGrpcTransport({
    baseUrl: "http://daemon.local",
    nodeOptions: { createConnection: () => net.connect(socketPath) },
    defaultTimeoutMs: 30_000,
  });
}

const policy = (mode: EgressPolicy["mode"], lists: Partial<EgressPolicy> = {}): EgressPolicy => ({
  mode,
  cidrs: lists.cidrs ?? [],
  domains: lists.domains ?? [],
});

describeEgress("egress policies (host firewall + DNS responder)", () => {
  const docker = new Dockerode();
  const logger = createLogger({ level: process.env.COVE_TEST_LOG === "1" ? "debug" : "silent" });
  const table = `cove_test_${run}`;
  let lab: NetLab;
  let network: SandboxNetwork;
  let driver: DockerDriver;
  let dataDir: string;
  let image: string;
  let hostServer: net.Server;
  let hostPort = 0;
  const a = sid("a");
  const b = sid("b");

  const makeNetwork = () =>
    new SandboxNetwork({
      docker,
      dataDir,
      logger,
      networkName: `cove-test-${run}`,
      bridgeName: `cvtb${run}`,
      subnet: SANDBOX_SUBNET,
      table,
      upstreamDns: lab.dnsUpstream,
      labels: testLabel,
    });

  const exec = async (sandboxId: string, command: string, user = "") => {
    const client = createClient(ProcessService, unixTransport(driver.socketPath(sandboxId)));
    const res = await client.exec({
      program: { case: "command", value: command },
      user,
      timeout: { seconds: 30n, nanos: 0 },
    });
    return { code: res.exitCode, out: text(res.stdout), err: text(res.stderr) };
  };

  /** get fetches a URL from inside the sandbox: the body, or the curl exit code (6 resolve, 7 refused). */
  const get = async (sandboxId: string, url: string, extra = "") => {
    const r = await exec(sandboxId, `curl -sS --max-time 4 ${extra} ${url}`);
    return r.code === 0 ? r.out : `curl ${r.code}`;
  };

  /** resolves returns the addresses getent finds for a name inside the sandbox ("" when none). */
  const resolves = async (sandboxId: string, name: string) =>
    (
      await exec(sandboxId, `getent ahostsv4 ${name} | awk '{print $1}' | sort -u | tr '\\n' ' '`)
    ).out.trim();

  const spec = (sandboxId: string, egress: EgressPolicy): SandboxSpec => ({
    sandboxId,
    organizationId: "org-test",
    image,
    cpuMillicores: 1000,
    memoryMib: 256,
    diskMib: 0,
    env: {},
    labels: {},
    osUser: "",
    network: "none",
    egress,
    runtime: "",
  });

  beforeAll(async () => {
    if (unreachable !== undefined) throw new Error(`COVE_REQUIRE_DOCKER=1 but ${unreachable}`);
    const kit = await buildKit({ log: () => {} });
    image = (await ensureBaseImage({ log: () => {} })).image;
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "cove-egress-test-"));
    lab = await startNetLab(`cvtb${run}`);
    lab.dnsRecords.set("ok.allowed.test", { a: [LAB.publicAllowed] });
    lab.dnsRecords.set("other.test", { a: [LAB.publicOther] });
    lab.dnsRecords.set("sub.wild.test", { a: [LAB.publicAllowed] });
    lab.dnsRecords.set("deep.sub.wild.test", { a: [LAB.publicAllowed] });
    lab.dnsRecords.set("wild.test", { a: [LAB.publicAllowed] });
    lab.dnsRecords.set("rebind.allowed.test", { a: [LAB.private, LAB.metadata] });
    lab.dnsRecords.set("host.allowed.test", { a: [LAB.hostSide] });
    lab.dnsRecords.set("cdn.allowed.test", { cname: "edge.cdn-provider.test" });
    lab.dnsRecords.set("edge.cdn-provider.test", { a: [LAB.publicAllowed] });
    network = makeNetwork();
    await network.init();
    driver = new DockerDriver({
      docker,
      kitDir: kit.dir,
      kitEntrypoint: kit.manifest.entrypoint,
      dataDir,
      defaultRuntime: "",
      logger,
      startTimeoutMs: 20_000,
      extraLabels: testLabel,
      // Through the variable: the restart test swaps in a new instance.
      hooks: [
        {
          createOptions: (s, o) => network.createOptions(s, o),
          created: (s, c) => network.created(s, c),
          starting: (id, c) => network.starting(id, c),
          removed: (id) => network.removed(id),
        },
      ],
    });
    // A service on the host's own addresses (the gateway, the lab link): sandboxes must never reach it.
    hostServer = net.createServer((s) => s.end("host\n"));
    await new Promise<void>((r) => hostServer.listen(0, "0.0.0.0", () => r()));
    hostPort = (hostServer.address() as net.AddressInfo).port;
  }, 600_000);

  afterAll(async () => {
    const leftovers = await docker.listContainers({
      all: true,
      filters: { label: ["dev.cove.test=egress"] },
    });
    for (const c of leftovers)
      await docker
        .getContainer(c.Id)
        .remove({ force: true, v: true })
        .catch(() => {});
    await network?.uninstall();
    await lab?.close();
    hostServer?.close();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    // Nothing of ours is left: no table, no network.
    expect(spawnSync("nft", ["list", "table", "inet", table]).status).not.toBe(0);
  }, 60_000);

  test("block-all (the default): no interface but loopback, nothing resolves, nothing connects", async () => {
    await driver.create(spec(a, policy("block")));
    await driver.start(a);
    expect((await exec(a, "ls /sys/class/net")).out.trim().split(/\s+/)).toEqual(["lo"]);
    expect(await get(a, `http://${LAB.publicAllowed}/`)).toMatch(/^curl /);
    expect(await resolves(a, "ok.allowed.test")).toBe("");
    expect(lab.dnsQueries).toEqual([]);
  }, 120_000);

  test("allow-all: public and private reachable; metadata, the host, IPv6 and other sandboxes are not", async () => {
    expect(await network.update(a, policy("allow-all"))).toBe(true);
    const inspect = await docker.getContainer(a).inspect();
    expect(Object.keys(inspect.NetworkSettings.Networks)).toEqual([`cove-test-${run}`]);
    expect(await get(a, `http://${LAB.publicAllowed}/`)).toBe(`lab ${LAB.publicAllowed}`);
    expect(await get(a, `http://${LAB.private}/`)).toBe(`lab ${LAB.private}`);
    expect(await get(a, `http://${LAB.metadata}/`)).toMatch(/^curl /);
    expect(await get(a, `http://${network.gateway}:${hostPort}/`)).toMatch(/^curl /);
    expect(await get(a, `http://${LAB.hostSide}:${hostPort}/`)).toMatch(/^curl /);
    expect(await get(a, `http://[${LAB.ipv6}]/`)).toMatch(/^curl /);
    // DNS is answered for every name.
    expect(await resolves(a, "other.test")).toBe(LAB.publicOther);

    // A neighbour with a server: unreachable from a, although both are on the bridge.
    await driver.create(spec(b, policy("allow-all")));
    await driver.start(b);
    await exec(b, "nohup python3 -m http.server 8080 >/dev/null 2>&1 &");
    const bAddress = network.addressOf(b);
    expect(
      await exec(
        b,
        "for i in $(seq 50); do curl -s -o /dev/null localhost:8080 && break; sleep 0.1; done; curl -s -o /dev/null -w '%{http_code}' localhost:8080",
      ),
    ).toMatchObject({ out: "200" });
    expect(await get(a, `http://${bAddress}:8080/`)).toMatch(/^curl /);
    await driver.destroy(b);
  }, 120_000);

  test("root in the sandbox cannot change its network, its address or the firewall", async () => {
    const addr = network.addressOf(a);
    const tries = [
      "ip addr add 198.51.100.100/26 dev eth0",
      "ip route add 10.0.0.0/8 dev eth0",
      "ip link set eth0 down",
      "ip link add dummy0 type dummy",
    ];
    for (const cmd of tries) {
      const r = await exec(a, cmd, "root");
      expect(r.code).not.toBe(0);
      expect(r.err).toMatch(/Operation not permitted/);
    }
    // Raw sockets (needed to spoof a source address) are refused too.
    const raw = await exec(
      a,
      "python3 -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)'",
      "root",
    );
    expect(raw.err).toMatch(/PermissionError|Operation not permitted/);
    expect(network.addressOf(a)).toBe(addr);
  }, 60_000);

  test("allow-public (changed while running): private, CGNAT and metadata refused, public allowed", async () => {
    await network.update(a, policy("allow-public"));
    expect(await get(a, `http://${LAB.publicAllowed}/`)).toBe(`lab ${LAB.publicAllowed}`);
    expect(await get(a, `http://${LAB.publicOther}/`)).toBe(`lab ${LAB.publicOther}`);
    expect(await get(a, `http://${LAB.private}/`)).toMatch(/^curl /);
    expect(await get(a, `http://${LAB.cgnat}/`)).toMatch(/^curl /);
    expect(await get(a, `http://${LAB.metadata}/`)).toMatch(/^curl /);
    expect(await get(a, `http://${LAB.hostSide}:${hostPort}/`)).toMatch(/^curl /);
  }, 60_000);

  test("CIDR allow-list: only the listed range; no DNS at all", async () => {
    const before = lab.dnsQueries.length;
    await network.update(
      a,
      policy("cidrs", { cidrs: [`${LAB.publicAllowed}/32`, "2001:db8::/32"] }),
    );
    expect(await get(a, `http://${LAB.publicAllowed}/`)).toBe(`lab ${LAB.publicAllowed}`);
    expect(await get(a, `http://${LAB.publicOther}/`)).toMatch(/^curl /);
    expect(await get(a, `http://${LAB.private}/`)).toMatch(/^curl /);
    expect(await get(a, `http://[${LAB.ipv6}]/`)).toMatch(/^curl /);
    expect(await resolves(a, "ok.allowed.test")).toBe("");
    expect(lab.dnsQueries.length).toBe(before);
  }, 60_000);

  test("domain allow-list: allowed names resolve and connect; raw IPs, other names, rebinding and other resolvers do not", async () => {
    await network.update(
      a,
      policy("domains", {
        domains: [
          "ok.allowed.test",
          "*.wild.test",
          "rebind.allowed.test",
          "host.allowed.test",
          "cdn.allowed.test",
        ],
      }),
    );
    // Before any answer even the allowed address is closed: only answered addresses open.
    expect(await get(a, `http://${LAB.publicAllowed}/`)).toMatch(/^curl /);
    expect(await get(a, "http://ok.allowed.test/")).toBe(`lab ${LAB.publicAllowed}`);
    expect(await get(a, "http://sub.wild.test/")).toBe(`lab ${LAB.publicAllowed}`);
    expect(await get(a, "http://deep.sub.wild.test/")).toBe(`lab ${LAB.publicAllowed}`);
    expect(await get(a, "http://cdn.allowed.test/")).toBe(`lab ${LAB.publicAllowed}`);

    // Names off the list are NXDOMAIN and never reach the upstream (no DNS exfiltration).
    const asked = lab.dnsQueries.length;
    expect(await get(a, "http://other.test/")).toBe("curl 6");
    expect(await get(a, "http://wild.test/")).toBe("curl 6");
    expect(await resolves(a, "exfil-c2VjcmV0.other.test")).toBe("");
    expect(lab.dnsQueries.slice(asked)).toEqual([]);

    // Raw IP of a host no answer named, by IPv4 and IPv6.
    expect(await get(a, `http://${LAB.publicOther}/`)).toMatch(/^curl /);
    expect(await get(a, `http://[${LAB.ipv6}]/`)).toMatch(/^curl /);

    // Rebinding: an allowed name answering private, metadata or host addresses resolves to nothing.
    expect(await resolves(a, "rebind.allowed.test")).toBe("");
    expect(await get(a, `http://${LAB.private}/`)).toMatch(/^curl /);
    expect(await get(a, `http://${LAB.metadata}/`)).toMatch(/^curl /);
    expect(await resolves(a, "host.allowed.test")).toBe("");
    expect(await get(a, `http://${LAB.hostSide}:${hostPort}/`)).toMatch(/^curl /);
    expect(await get(a, "http://rebind.allowed.test/")).toBe("curl 6");

    // Another resolver, named directly or written into resolv.conf by root: refused.
    await exec(a, `echo "nameserver ${LAB.publicOther}" > /etc/resolv.conf`, "root");
    expect(await resolves(a, "other.test")).toBe("");
    await exec(a, "echo 'nameserver 127.0.0.11' > /etc/resolv.conf", "root");
    expect(await resolves(a, "ok.allowed.test")).toBe(LAB.publicAllowed);
  }, 120_000);

  test("a policy change cuts connections the new policy forbids", async () => {
    await network.update(a, policy("allow-all"));
    // One TCP connection, used before and after the change.
    const script = [
      "import socket, time, os",
      `s = socket.create_connection(("${LAB.publicOther}", 80), timeout=3)`,
      "def ask():",
      "    s.sendall(b'GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n')",
      "    return s.recv(1000).split(b'\\r\\n\\r\\n')[-1].decode()",
      "print(ask(), flush=True)",
      "while not os.path.exists('/tmp/go'): time.sleep(0.05)",
      "try:",
      "    print(ask() or 'closed')",
      "except Exception as e:",
      "    print(type(e).__name__)",
    ].join("\n");
    await exec(
      a,
      `cat > /tmp/conn.py <<'EOF'\n${script}\nEOF\nrm -f /tmp/go /tmp/conn.out; nohup python3 /tmp/conn.py > /tmp/conn.out 2>&1 &`,
    );
    await exec(a, "for i in $(seq 50); do grep -q lab /tmp/conn.out && break; sleep 0.1; done");
    expect((await exec(a, "cat /tmp/conn.out")).out).toBe(`lab ${LAB.publicOther}\n`);
    await network.update(a, policy("domains", { domains: ["ok.allowed.test"] }));
    await exec(
      a,
      "touch /tmp/go; for i in $(seq 80); do [ $(wc -l < /tmp/conn.out) -ge 2 ] && break; sleep 0.1; done",
    );
    const lines = (await exec(a, "cat /tmp/conn.out")).out.trim().split("\n");
    expect(lines[1]).not.toBe(`lab ${LAB.publicOther}`);
  }, 60_000);

  test("stop/start and a runner restart keep the policy; destroy removes the sandbox's rules", async () => {
    await network.update(a, policy("domains", { domains: ["ok.allowed.test"] }));
    await driver.stop(a, 2_000);
    await driver.start(a);
    expect(await get(a, "http://ok.allowed.test/")).toBe(`lab ${LAB.publicAllowed}`);
    expect(await get(a, `http://${LAB.publicOther}/`)).toMatch(/^curl /);

    // A new runner process: the table is rebuilt from saved state and DNS answers again.
    await network.close();
    network = makeNetwork();
    await network.init();
    expect(network.policyOf(a).mode).toBe("domains");
    expect(await get(a, "http://ok.allowed.test/")).toBe(`lab ${LAB.publicAllowed}`);
    expect(await get(a, `http://${LAB.publicOther}/`)).toMatch(/^curl /);

    // Back to block-all: the interface goes away.
    await network.update(a, policy("block"));
    expect((await exec(a, "ls /sys/class/net")).out.trim()).toBe("lo");
    expect(await get(a, `http://${LAB.publicAllowed}/`)).toMatch(/^curl /);

    const key = a.replace(/-/g, "_");
    await network.update(a, policy("allow-all"));
    expect(await createNft().list(table)).toContain(`sb_${key}`);
    await driver.destroy(a);
    expect(await createNft().list(table)).not.toContain(`sb_${key}`);
    expect(network.addressOf(a)).toBe("");
  }, 120_000);
});
