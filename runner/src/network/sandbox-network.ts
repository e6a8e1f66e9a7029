// The sandbox network: one runner-owned Docker bridge (no inter-container traffic), a fixed
// address per sandbox for its whole life, the host firewall (nft-ruleset.ts) keyed by those
// addresses, and the DNS responder on the bridge's gateway. A sandbox under block-all has no
// interface at all (network "none"); one with any other policy is connected to the bridge
// after its rules are in place, so no packet ever leaves under a weaker policy, and is
// disconnected again when its policy returns to block-all. State per sandbox lives in
// <dataDir>/network/<id>.json, so a restarted runner restores rules and DNS for sandboxes
// that kept running.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { failedPrecondition, type Logger } from "@cove/common";
import type Dockerode from "dockerode";
import type { ContainerHooks } from "../domain/container-hooks.js";
import type { SandboxCreateOptions } from "../domain/hardening.js";
import type { SandboxSpec } from "../domain/sandbox-driver.js";
import {
  type AnsweredAddress,
  type DnsResponder,
  MAX_ANSWER_TTL,
  startDnsResponder,
} from "./dns-responder.js";
import {
  BLOCK_ALL,
  checkPolicy,
  type EgressPolicy,
  intToIpv4,
  ipv4ToInt,
  samePolicy,
} from "./egress-policy.js";
import { createNft, type Nft } from "./nft.js";
import {
  allowAnswersScript,
  applyScript,
  dropTableScript,
  type FirewallScope,
  removeScript,
  tableScript,
} from "./nft-ruleset.js";

/** What the sandbox network is built from. */
export interface SandboxNetworkOptions {
  /** The Docker engine. */
  docker: Dockerode;
  /** The runner's data directory (state under <dataDir>/network). */
  dataDir: string;
  /** Where it logs. */
  logger: Logger;
  /** The Docker network's name. Default "cove-sandboxes". */
  networkName?: string;
  /** The bridge interface's name on the host (at most 15 characters). Default "cove-sb0". */
  bridgeName?: string;
  /** The network's IPv4 subnet, e.g. "10.213.0.0/16"; unset lets Docker pick a free one. */
  subnet?: string;
  /** The nft table (inet family). Default "cove". */
  table?: string;
  /** The resolver that answers allowed names, "host:port" or "host" (port 53). */
  upstreamDns: string;
  /** Labels on the Docker network (tests mark theirs). */
  labels?: Record<string, string>;
  /**
   * Runtimes whose sandboxes are connected to the bridge from their creation, whatever their
   * policy (their network stack is set up once at start, so a later connect would not reach
   * them); block-all is then the firewall's default verdict. Default ["runsc"].
   */
  attachAtCreate?: string[];
  /** The nft runner (a fake in unit tests). */
  nft?: Nft;
}

/** What the runner remembers about one sandbox's network. */
interface SandboxNetState {
  sandboxId: string;
  /** The address reserved for the sandbox on the bridge. */
  address: string;
  /** The policy in force. */
  policy: EgressPolicy;
  /** The connection mark of this policy version. */
  mark: number;
  /** The sandbox's OCI runtime ("" = the engine's default). */
  runtime: string;
}

/** A Docker API error's HTTP status. */
function statusCode(err: unknown): number | undefined {
  const code = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === "number" ? code : undefined;
}

/** parseHostPort reads "host", "host:port" or "[v6]:port". */
export function parseHostPort(text: string, defaultPort: number): { host: string; port: number } {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (v6) return { host: v6[1] ?? "", port: Number(v6[2] ?? defaultPort) };
  const [host = "", port] = text.split(":");
  return { host, port: Number(port ?? defaultPort) };
}

/**
 * SandboxNetwork enforces each sandbox's egress policy from the host. It is a set of
 * ContainerHooks for the Docker driver plus `update` for policy changes of existing sandboxes.
 */
export class SandboxNetwork implements ContainerHooks {
  private readonly docker: Dockerode;
  private readonly logger: Logger;
  private readonly stateDir: string;
  private readonly networkName: string;
  private readonly bridgeName: string;
  private readonly nft: Nft;
  private readonly attachAtCreate: Set<string>;
  private readonly states = new Map<string, SandboxNetState>();
  private readonly byAddress = new Map<string, SandboxNetState>();
  private scope: FirewallScope | undefined;
  private subnet = { base: 0, size: 0 };
  private dns: DnsResponder | undefined;
  private nextMark = (Math.floor(Date.now() / 1000) & 0x3fffffff) | 0x40000000;

  constructor(private readonly options: SandboxNetworkOptions) {
    this.docker = options.docker;
    this.logger = options.logger.child({ component: "sandbox-network" });
    this.stateDir = path.join(options.dataDir, "network");
    this.networkName = options.networkName ?? "cove-sandboxes";
    this.bridgeName = options.bridgeName ?? "cove-sb0";
    this.nft = options.nft ?? createNft();
    this.attachAtCreate = new Set(options.attachAtCreate ?? ["runsc"]);
    if (this.bridgeName.length > 15) throw new Error("bridgeName is at most 15 characters");
  }

  /** The network's gateway address (the DNS responder's), once init ran. */
  get gateway(): string {
    if (!this.scope) throw new Error("the sandbox network is not initialized");
    return this.scope.gateway;
  }

  /** The Docker network's name. */
  get name(): string {
    return this.networkName;
  }

  /**
   * init creates the Docker network when missing, rebuilds the firewall table from the saved
   * state of every sandbox, and starts the DNS responder. Call once before the driver runs.
   */
  async init(): Promise<void> {
    const { subnet, gateway } = await this.ensureDockerNetwork();
    const [base = "", bits = "32"] = subnet.split("/");
    this.subnet = { base: ipv4ToInt(base), size: 2 ** (32 - Number(bits)) };
    this.scope = { table: this.options.table ?? "cove", bridge: this.bridgeName, gateway };
    fs.mkdirSync(this.stateDir, { recursive: true, mode: 0o700 });
    for (const file of fs.readdirSync(this.stateDir)) {
      if (!file.endsWith(".json")) continue;
      try {
        const state = JSON.parse(
          fs.readFileSync(path.join(this.stateDir, file), "utf8"),
        ) as SandboxNetState;
        this.remember(state);
      } catch (err) {
        this.logger.warn("unreadable network state skipped", { file, err });
      }
    }
    // The table is rebuilt from nothing (a crash may have left it half-written), in one go.
    let script = tableScript(this.scope);
    for (const state of this.states.values()) script += this.rulesScript(state, false);
    await this.nft.apply(script);
    this.dns = await startDnsResponder({
      listen: { host: gateway, port: 53 },
      upstream: parseHostPort(this.options.upstreamDns, 53),
      client: (source) => {
        const state = this.byAddress.get(source);
        if (!state) return undefined;
        return { policy: state.policy, allow: (answers) => this.allowAnswers(state, answers) };
      },
      isHostAddress: (address) => hostAddresses().has(address),
      logger: this.logger,
    });
  }

  /** close stops the DNS responder; rules stay, so running sandboxes keep their policy. */
  async close(): Promise<void> {
    await this.dns?.close();
    this.dns = undefined;
  }

  /** uninstall removes the table and the Docker network (tests; the network must be empty). */
  async uninstall(): Promise<void> {
    await this.close();
    if (this.scope) await this.nft.apply(dropTableScript(this.scope.table)).catch(() => {});
    await this.docker
      .getNetwork(this.networkName)
      .remove()
      .catch((err) => {
        if (statusCode(err) !== 404) throw err;
      });
  }

  /** policyOf is the policy the runner enforces for a sandbox (block-all when unknown). */
  policyOf(sandboxId: string): EgressPolicy {
    return this.states.get(sandboxId)?.policy ?? BLOCK_ALL;
  }

  /** addressOf is the sandbox's reserved address ("" when it has none). */
  addressOf(sandboxId: string): string {
    return this.states.get(sandboxId)?.address ?? "";
  }

  createOptions(spec: SandboxSpec, options: SandboxCreateOptions): void {
    // Every sandbox starts without an interface; DNS (through Docker's embedded resolver,
    // which forwards from inside the sandbox's namespace) goes only to the responder.
    options.HostConfig.NetworkMode = "none";
    options.HostConfig.Dns = [this.gateway];
    options.HostConfig.DnsSearch = [];
    options.HostConfig.DnsOptions = [];
    const runtime = options.HostConfig.Runtime ?? "";
    if (this.attachAtCreate.has(runtime)) {
      // gVisor has its own network stack, where Docker's embedded resolver (127.0.0.11, reached
      // through iptables rules of the host's view of the namespace) does not exist: its
      // resolv.conf names the responder itself, and queries come from the sandbox's address.
      // A mount at /etc/resolv.conf makes Docker leave its own out.
      const file = path.join(this.stateDir, `${spec.sandboxId}.resolv.conf`);
      fs.writeFileSync(file, `nameserver ${this.gateway}\noptions ndots:0\n`, { mode: 0o644 });
      options.HostConfig.Mounts = [
        ...(options.HostConfig.Mounts ?? []),
        { Type: "bind", Source: file, Target: "/etc/resolv.conf", ReadOnly: true },
      ];
    }
  }

  async created(spec: SandboxSpec, container: Dockerode.ContainerInspectInfo): Promise<void> {
    // A redelivered create keeps what the runner already enforces (a later update may have changed it).
    const known = this.states.get(spec.sandboxId);
    const policy = known?.policy ?? checkPolicy(spec.egress ?? BLOCK_ALL);
    const runtime = container.HostConfig.Runtime ?? spec.runtime ?? "";
    await this.enforce(spec.sandboxId, policy, runtime, container);
  }

  async starting(sandboxId: string, container: Dockerode.ContainerInspectInfo): Promise<void> {
    const state = this.states.get(sandboxId);
    await this.enforce(
      sandboxId,
      state?.policy ?? BLOCK_ALL,
      state?.runtime ?? container.HostConfig.Runtime ?? "",
      container,
    );
  }

  async removed(sandboxId: string): Promise<void> {
    const state = this.states.get(sandboxId);
    if (!state) return;
    await this.nft.apply(removeScript(this.requireScope(), keyOf(sandboxId), state.address));
    this.forget(state);
    fs.rmSync(this.stateFile(sandboxId), { force: true });
    fs.rmSync(path.join(this.stateDir, `${sandboxId}.resolv.conf`), { force: true });
  }

  /**
   * update replaces a sandbox's policy: at once for a running sandbox (connections the new
   * policy forbids are cut), at its next start otherwise. Returns false when there is no
   * container (the next create carries the policy).
   */
  async update(sandboxId: string, policy: EgressPolicy): Promise<boolean> {
    const checked = checkPolicy(policy);
    const container = await this.inspect(sandboxId);
    if (!container) return false;
    const state = this.states.get(sandboxId);
    await this.enforce(
      sandboxId,
      checked,
      state?.runtime ?? container.HostConfig.Runtime ?? "",
      container,
    );
    return true;
  }

  /**
   * enforce makes the firewall and the container's connection match `policy`: rules before a
   * connect, a disconnect before rules are removed, so the sandbox is never less restricted
   * than either the old or the new policy.
   */
  private async enforce(
    sandboxId: string,
    policy: EgressPolicy,
    runtime: string,
    container: Dockerode.ContainerInspectInfo,
  ): Promise<void> {
    const scope = this.requireScope();
    const previous = this.states.get(sandboxId);
    const changed = !previous || !samePolicy(previous.policy, policy);
    const state: SandboxNetState = {
      sandboxId,
      address: previous?.address ?? this.allocate(),
      policy,
      mark: changed ? this.mark() : (previous?.mark ?? this.mark()),
      runtime,
    };
    const wantAttached = policy.mode !== "block" || this.attachAtCreate.has(runtime);
    const networks = container.NetworkSettings?.Networks ?? {};
    const attached = Object.hasOwn(networks, this.networkName);
    // Saved first: a crash from here on restores at least this policy at the next init.
    this.save(state);
    this.remember(state, previous);
    if (wantAttached) {
      await this.nft.apply(
        this.rulesScript(state, !changed && previous?.policy.mode === "domains"),
      );
      if (!attached) await this.attach(sandboxId, state.address, Object.hasOwn(networks, "none"));
    } else {
      if (attached) await this.detach(sandboxId);
      await this.nft.apply(removeScript(scope, keyOf(sandboxId), state.address));
    }
    if (changed) {
      this.logger.info("network policy enforced", {
        sandboxId,
        mode: policy.mode,
        address: state.address,
        cidrs: policy.cidrs.length,
        domains: policy.domains.length,
      });
    }
  }

  private rulesScript(state: SandboxNetState, keepAnswers: boolean): string {
    const scope = this.requireScope();
    const key = keyOf(state.sandboxId);
    if (state.policy.mode === "block") return removeScript(scope, key, state.address);
    return applyScript(
      scope,
      { key, address: state.address, policy: state.policy, mark: state.mark },
      keepAnswers,
    );
  }

  private async attach(sandboxId: string, address: string, onNone: boolean): Promise<void> {
    if (onNone) {
      await this.docker
        .getNetwork("none")
        .disconnect({ Container: sandboxId, Force: true })
        .catch((err) => {
          if (statusCode(err) !== 404) throw err;
        });
    }
    try {
      await this.docker.getNetwork(this.networkName).connect({
        Container: sandboxId,
        EndpointConfig: { IPAMConfig: { IPv4Address: address } },
      });
    } catch (err) {
      throw failedPrecondition(
        "RUNTIME_UNAVAILABLE",
        `sandbox ${sandboxId} could not join the sandbox network: ${(err as Error).message}`,
        { sandboxId },
      );
    }
  }

  private async detach(sandboxId: string): Promise<void> {
    await this.docker
      .getNetwork(this.networkName)
      .disconnect({ Container: sandboxId, Force: true })
      .catch((err) => {
        if (statusCode(err) !== 404) throw err;
      });
    await this.docker
      .getNetwork("none")
      .connect({ Container: sandboxId })
      .catch((err) => {
        // Already on "none" (or another runtime refusing it): the sandbox has no interface either way.
        this.logger.debug("connect to none skipped", { sandboxId, err: (err as Error).message });
      });
  }

  private async allowAnswers(state: SandboxNetState, answers: AnsweredAddress[]): Promise<void> {
    const current = this.states.get(state.sandboxId);
    if (current?.policy.mode !== "domains") return;
    const timeouts = answers.map((a) => ({
      address: a.address,
      // At least a minute, and always longer than the TTL handed to the sandbox.
      timeoutSeconds: Math.max(60, Math.min(a.ttl, MAX_ANSWER_TTL)) + 30,
    }));
    await this.nft.apply(allowAnswersScript(this.requireScope(), keyOf(state.sandboxId), timeouts));
  }

  private async ensureDockerNetwork(): Promise<{ subnet: string; gateway: string }> {
    const read = (net: Dockerode.NetworkInspectInfo) => {
      const config = net.IPAM?.Config?.[0] as { Subnet?: string; Gateway?: string } | undefined;
      const options = net.Options ?? {};
      if (options["com.docker.network.bridge.enable_icc"] !== "false") {
        throw new Error(
          `the network ${this.networkName} exists but allows inter-container traffic`,
        );
      }
      if (
        options["com.docker.network.bridge.name"] !== this.bridgeName ||
        !config?.Subnet ||
        !config.Gateway
      ) {
        throw new Error(
          `the network ${this.networkName} exists without bridge ${this.bridgeName} and a fixed subnet; remove it and restart the runner`,
        );
      }
      return { subnet: config.Subnet, gateway: config.Gateway };
    };
    try {
      return read(await this.docker.getNetwork(this.networkName).inspect());
    } catch (err) {
      if (statusCode(err) !== 404) throw err;
    }
    let subnet = this.options.subnet;
    if (!subnet) {
      // Docker knows which of its address pools are free on this host: borrow its choice.
      const probe = await this.docker.createNetwork({
        Name: `${this.networkName}-probe`,
        Driver: "bridge",
        Labels: { ...this.options.labels, "dev.cove.managed": "network-probe" },
      });
      try {
        const info = await probe.inspect();
        subnet = (info.IPAM?.Config?.[0] as { Subnet?: string } | undefined)?.Subnet;
      } finally {
        await probe.remove().catch(() => {});
      }
      if (!subnet) throw new Error("Docker picked no subnet for the sandbox network");
    }
    const [base = ""] = subnet.split("/");
    const gateway = intToIpv4(ipv4ToInt(base) + 1);
    try {
      await this.docker.createNetwork({
        Name: this.networkName,
        Driver: "bridge",
        CheckDuplicate: true,
        Internal: false,
        EnableIPv6: false,
        IPAM: { Driver: "default", Config: [{ Subnet: subnet, Gateway: gateway }] },
        Options: {
          "com.docker.network.bridge.name": this.bridgeName,
          "com.docker.network.bridge.enable_icc": "false",
          "com.docker.network.bridge.enable_ip_masquerade": "true",
        },
        Labels: { ...this.options.labels, "dev.cove.managed": "network" },
      });
      this.logger.info("created the sandbox network", {
        network: this.networkName,
        subnet,
        bridge: this.bridgeName,
      });
    } catch (err) {
      if (statusCode(err) !== 409) throw err;
    }
    return read(await this.docker.getNetwork(this.networkName).inspect());
  }

  /** allocate reserves the lowest free address of the subnet (not the network, gateway or broadcast). */
  private allocate(): string {
    const used = new Set([...this.states.values()].map((s) => s.address));
    for (let i = 2; i < this.subnet.size - 1; i++) {
      const address = intToIpv4(this.subnet.base + i);
      if (!used.has(address)) return address;
    }
    throw failedPrecondition(
      "NO_RUNNER_CAPACITY",
      `the sandbox network ${this.networkName} has no free address`,
    );
  }

  private mark(): number {
    this.nextMark = this.nextMark >= 0x7fffffff ? 0x40000000 : this.nextMark + 1;
    return this.nextMark;
  }

  private remember(state: SandboxNetState, previous?: SandboxNetState): void {
    if (previous) this.byAddress.delete(previous.address);
    this.states.set(state.sandboxId, state);
    this.byAddress.set(state.address, state);
  }

  private forget(state: SandboxNetState): void {
    this.states.delete(state.sandboxId);
    if (this.byAddress.get(state.address) === state) this.byAddress.delete(state.address);
  }

  private save(state: SandboxNetState): void {
    const file = this.stateFile(state.sandboxId);
    fs.writeFileSync(`${file}.tmp`, JSON.stringify(state), { mode: 0o600 });
    fs.renameSync(`${file}.tmp`, file);
  }

  private stateFile(sandboxId: string): string {
    if (!/^[a-z0-9-]+$/.test(sandboxId)) throw new Error(`bad sandbox id ${sandboxId}`);
    return path.join(this.stateDir, `${sandboxId}.json`);
  }

  private requireScope(): FirewallScope {
    if (!this.scope) throw new Error("the sandbox network is not initialized");
    return this.scope;
  }

  private async inspect(sandboxId: string): Promise<Dockerode.ContainerInspectInfo | undefined> {
    try {
      return await this.docker.getContainer(sandboxId).inspect();
    } catch (err) {
      if (statusCode(err) === 404) return undefined;
      throw err;
    }
  }
}

/** keyOf is the nft-safe key of a sandbox id. */
function keyOf(sandboxId: string): string {
  return sandboxId.replace(/-/g, "_");
}

/** hostAddresses lists every address of the host's interfaces. */
function hostAddresses(): Set<string> {
  const out = new Set<string>();
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) out.add(a.address);
  }
  return out;
}
