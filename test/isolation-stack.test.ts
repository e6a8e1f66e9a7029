// Isolation through the whole stack (API server, runner with its sandbox network and disk
// limits, proxy, TypeScript SDK): UpdateSandbox changes a running sandbox's egress policy and
// the runner enforces it before the call returns; the API's disk size holds inside the
// sandbox; `runtimeClass: "gvisor"` works end to end (exec, files, PTY, previews, stop/start).
// Network traffic goes only to the lab (runner/test/net-lab.ts) this test builds.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as http from "node:http";
import { NetworkPolicyMode } from "@cove/gen-ts/cove/sandbox/v1/sandbox_pb.js";
import { Cove, type NodeSandbox as Sandbox } from "../clients/typescript/src/index.js";
import { LAB, type NetLab, startNetLab } from "../runner/test/net-lab.js";
import { type Stack, startStack } from "./stack.js";

function unreachableReason(): string | undefined {
  if (process.getuid?.() !== 0) return "not root";
  if (spawnSync("docker", ["info"], { timeout: 15_000 }).status !== 0) return "no Docker engine";
  if (spawnSync("nft", ["--version"]).status !== 0) return "no nft (Debian package nftables)";
  return undefined;
}
const unreachable = unreachableReason();
const required = process.env.COVE_REQUIRE_DOCKER === "1";
if (unreachable !== undefined && !required)
  console.warn(`Skipping the isolation stack tests: ${unreachable}`);
const describeStack = unreachable !== undefined && !required ? describe.skip : describe;
const runtimes =
  spawnSync("docker", ["info", "--format", "{{json .Runtimes}}"], { encoding: "utf8" }).stdout ??
  "";
const hasRunsc = /"runsc"/.test(runtimes) || process.env.COVE_REQUIRE_RUNSC === "1";
const testGvisor = hasRunsc ? test : test.skip;

const run = randomBytes(3).toString("hex");
const SUBNET = "198.51.100.128/26";
const LINK = { hostSide: "198.51.100.5", labSide: "198.51.100.6" };

/** previewGet fetches a preview through the proxy with a Host header (no DNS involved). */
function previewGet(
  proxyUrl: string,
  host: string,
  token: string,
): Promise<{ status: number; body: string }> {
  const url = new URL(proxyUrl);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: "/",
        headers: { host, "cove-preview-token": token },
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c) => {
          body += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

describeStack("isolation through the whole stack", () => {
  let lab: NetLab;
  let stack: Stack;
  let cove: Cove;

  beforeAll(async () => {
    if (unreachable !== undefined) throw new Error(`COVE_REQUIRE_DOCKER=1 but ${unreachable}`);
    const bridge = `cvts${run}`;
    lab = await startNetLab(bridge, SUBNET, LINK);
    lab.dnsRecords.set("ok.allowed.test", { a: [LAB.publicAllowed] });
    lab.dnsRecords.set("other.test", { a: [LAB.publicOther] });
    stack = await startStack({
      name: "isolation",
      runner: {
        egress: {
          networkName: `cove-test-iso-${run}`,
          bridgeName: bridge,
          subnet: SUBNET,
          table: `cove_iso_${run}`,
          upstreamDns: lab.dnsUpstream,
        },
        diskLimits: true,
      },
    });
    cove = new Cove({ apiKey: stack.adminKey, apiUrl: stack.apiUrl, proxyUrl: stack.proxyUrl });
  }, 900_000);

  afterAll(async () => {
    await stack?.stop();
    spawnSync("docker", ["network", "rm", `cove-test-iso-${run}`]);
    spawnSync("nft", ["delete", "table", "inet", `cove_iso_${run}`]);
    await lab?.close();
  }, 120_000);

  const curl = async (sandbox: Sandbox, url: string) => {
    const r = await sandbox.process.executeCommand(`curl -sS --max-time 4 ${url}`);
    return r.exitCode === 0 ? r.result : `curl ${r.exitCode}`;
  };

  test("UpdateSandbox changes a running sandbox's egress policy; it is enforced when the call returns", async () => {
    const sandbox = await cove.create({});
    try {
      expect(await curl(sandbox, `http://${LAB.publicAllowed}/`)).toMatch(/^curl /);
      const updated = await cove.update(sandbox.id, {
        updateMask: { paths: ["network_policy"] },
        networkPolicy: { mode: NetworkPolicyMode.ALLOW_DOMAINS, allowDomains: ["ok.allowed.test"] },
      });
      expect(updated.networkPolicy?.allowDomains).toEqual(["ok.allowed.test"]);
      expect(await curl(sandbox, "http://ok.allowed.test/")).toBe(`lab ${LAB.publicAllowed}`);
      expect(await curl(sandbox, "http://other.test/")).toBe("curl 6");
      expect(await curl(sandbox, `http://${LAB.publicOther}/`)).toMatch(/^curl /);
      await cove.update(sandbox.id, {
        updateMask: { paths: ["network_policy"] },
        networkPolicy: { mode: NetworkPolicyMode.ALLOW_PUBLIC },
      });
      expect(await curl(sandbox, `http://${LAB.publicOther}/`)).toBe(`lab ${LAB.publicOther}`);
      expect(await curl(sandbox, `http://${LAB.private}/`)).toMatch(/^curl /);
      await cove.update(sandbox.id, {
        updateMask: { paths: ["network_policy"] },
        networkPolicy: {},
      });
      expect(await curl(sandbox, `http://${LAB.publicOther}/`)).toMatch(/^curl /);
    } finally {
      await sandbox.delete();
    }
  }, 120_000);

  test("the API's disk size holds inside the sandbox", async () => {
    const sandbox = await cove.create({ resources: { diskMib: 512 } });
    try {
      const size = await sandbox.process.executeCommand("df -m / | tail -1 | awk '{print $2}'");
      expect(Number(size.result)).toBeLessThanOrEqual(512);
      const fill = await sandbox.process.executeCommand(
        "dd if=/dev/zero of=/tmp/fill bs=4M count=200 2>&1; echo exit=$?",
      );
      expect(fill.result).toMatch(/No space left on device/);
      expect((await sandbox.process.executeCommand("rm /tmp/fill; echo ok")).result).toBe("ok\n");
    } finally {
      await sandbox.delete();
    }
  }, 120_000);

  testGvisor(
    "the disk size holds under gVisor too",
    async () => {
      const sandbox = await cove.create({ runtimeClass: "gvisor", resources: { diskMib: 512 } });
      try {
        const fill = await sandbox.process.executeCommand(
          "dd if=/dev/zero of=/home/cove/fill bs=4M count=200 2>&1; echo exit=$?",
        );
        expect(fill.result).toMatch(/No space left on device/);
        expect((await sandbox.process.executeCommand("echo alive")).result).toBe("alive\n");
      } finally {
        await sandbox.delete();
      }
    },
    120_000,
  );

  testGvisor(
    "gVisor's own network stack is held by the same host firewall",
    async () => {
      const sandbox = await cove.create({ runtimeClass: "gvisor" });
      try {
        // Joined to the bridge at create, but BLOCK_ALL until told otherwise.
        expect(await curl(sandbox, `http://${LAB.publicAllowed}/`)).toMatch(/^curl /);
        await cove.update(sandbox.id, {
          updateMask: { paths: ["network_policy"] },
          networkPolicy: {
            mode: NetworkPolicyMode.ALLOW_DOMAINS,
            allowDomains: ["ok.allowed.test"],
          },
        });
        expect(await curl(sandbox, "http://ok.allowed.test/")).toBe(`lab ${LAB.publicAllowed}`);
        expect(await curl(sandbox, `http://${LAB.publicOther}/`)).toMatch(/^curl /);
        expect(await curl(sandbox, `http://${LAB.metadata}/`)).toMatch(/^curl /);
        expect(await curl(sandbox, `http://${LAB.private}/`)).toMatch(/^curl /);
        // Root inside gVisor cannot take another address either.
        const root = await sandbox.process.executeCommand(
          "ip addr add 198.51.100.150/26 dev eth0 2>&1; echo exit=$?",
          { user: "root" },
        );
        expect(root.result).not.toMatch(/exit=0/);
        // After a restart gVisor still resolves through the responder only.
        await sandbox.stop();
        await sandbox.start();
        expect(await curl(sandbox, "http://ok.allowed.test/")).toBe(`lab ${LAB.publicAllowed}`);
        expect(await curl(sandbox, "http://other.test/")).toBe("curl 6");
      } finally {
        await sandbox.delete();
      }
    },
    180_000,
  );

  testGvisor(
    'runtimeClass "gvisor": exec, files, PTY, previews and stop/start',
    async () => {
      const sandbox = await cove.create({ runtimeClass: "gvisor" });
      try {
        expect((await sandbox.process.executeCommand("uname -r")).result).toMatch(/gvisor/);
        await sandbox.fs.uploadFile(Buffer.from("kept across restarts\n"), "note.txt");
        expect((await sandbox.fs.downloadFile("note.txt")).toString()).toBe(
          "kept across restarts\n",
        );

        let screen = "";
        const decoder = new TextDecoder();
        const pty = await sandbox.pty.create({
          cols: 80,
          rows: 24,
          onData: (d) => {
            screen += decoder.decode(d, { stream: true });
          },
        });
        await pty.sendInput("echo pty-$((6*7))\n");
        for (let i = 0; i < 100 && !screen.includes("pty-42"); i++)
          await new Promise((r) => setTimeout(r, 50));
        expect(screen).toContain("pty-42");
        await pty.sendInput("exit 0\n");
        await pty.wait();

        await sandbox.process.executeCommand(
          "mkdir -p /tmp/www && echo from-gvisor > /tmp/www/index.html && (cd /tmp/www && nohup python3 -m http.server 8080 >/dev/null 2>&1 &)",
        );
        await sandbox.process.executeCommand(
          "for i in $(seq 100); do curl -s localhost:8080 >/dev/null && break; sleep 0.1; done",
        );
        const preview = await sandbox.getPreviewLink(8080);
        const page = await previewGet(
          stack.proxyUrl,
          `8080-${sandbox.id}.preview.localhost`,
          preview.token,
        );
        expect(page).toMatchObject({ status: 200, body: "from-gvisor\n" });

        await sandbox.stop();
        await sandbox.start();
        expect((await sandbox.process.executeCommand("cat note.txt")).result).toBe(
          "kept across restarts\n",
        );
      } finally {
        await sandbox.delete();
      }
    },
    180_000,
  );
});
