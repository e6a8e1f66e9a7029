// The host-side firewall of the sandbox network, as nft scripts. One `inet` table per runner
// holds everything; nothing in a sandbox can change it (it lives in the host's network
// namespace, and sandboxes have no CAP_NET_ADMIN anyway). Packets from the sandbox bridge:
// - to the host itself (input hook): only DNS to the runner's responder, and only from
//   sandboxes whose policy uses DNS; everything else is rejected;
// - through the host (forward hook): IPv6, other sandboxes, destinations rewritten by this
//   host's DNAT (published ports) and ALWAYS_BLOCKED_V4 are rejected; then the source address
//   selects the sandbox's own chain (a verdict map), and a source with no chain is rejected.
// Replies to connections a sandbox opened come back in; nothing else does.
import { ALWAYS_BLOCKED_V4, type EgressPolicy, ipv4Cidrs, PRIVATE_V4 } from "./egress-policy.js";

/** Where the firewall applies. */
export interface FirewallScope {
  /** The nft table's name (inet family), e.g. "cove". */
  table: string;
  /** The sandbox network's bridge interface on the host. */
  bridge: string;
  /** The bridge's own address, where the DNS responder listens. */
  gateway: string;
}

/** One sandbox's entry: its chain key, address, policy and connection mark. */
export interface SandboxRules {
  /** A key unique per sandbox, safe in nft names ([a-z0-9_]). */
  key: string;
  /** The sandbox's IPv4 address on the network. */
  address: string;
  /** The policy to enforce. */
  policy: EgressPolicy;
  /**
   * The conntrack mark of connections accepted under this policy version. Domain policies
   * accept established connections only with this mark, so a policy change cuts the others.
   */
  mark: number;
}

const reject = "reject with icmpx type admin-prohibited";

/** chainName is the sandbox's chain; setName its set of answered addresses. */
export function chainName(key: string): string {
  return `sb_${key}`;
}

function setName(key: string): string {
  return `dom_${key}`;
}

/** tableScript (re)creates the runner's table from nothing, atomically. */
export function tableScript(scope: FirewallScope): string {
  const t = `inet ${scope.table}`;
  const br = JSON.stringify(scope.bridge);
  return [
    `table ${t}`,
    `delete table ${t}`,
    `table ${t} {`,
    `  set always_blocked4 { type ipv4_addr; flags interval; elements = { ${ALWAYS_BLOCKED_V4.join(", ")} } }`,
    `  set private4 { type ipv4_addr; flags interval; elements = { ${PRIVATE_V4.join(", ")} } }`,
    "  set dns_clients { type ipv4_addr; }",
    "  map sandbox_policy { type ipv4_addr : verdict; }",
    "  chain egress {",
    `    meta nfproto ipv6 ${reject}`,
    `    oifname ${br} ${reject}`,
    `    ct status dnat ${reject}`,
    `    ip daddr @always_blocked4 ${reject}`,
    "    ip saddr vmap @sandbox_policy",
    `    ${reject}`,
    "  }",
    "  chain to_host {",
    `    ip saddr @dns_clients ip daddr ${scope.gateway} udp dport 53 accept`,
    `    ip saddr @dns_clients ip daddr ${scope.gateway} tcp dport 53 accept`,
    `    ${reject}`,
    "  }",
    "  chain forward {",
    "    type filter hook forward priority filter - 5; policy accept;",
    `    iifname ${br} jump egress`,
    `    oifname ${br} ct state established,related accept`,
    `    oifname ${br} ${reject}`,
    "  }",
    "  chain input {",
    "    type filter hook input priority filter - 5; policy accept;",
    `    iifname ${br} jump to_host`,
    "  }",
    "}",
    "",
  ].join("\n");
}

/** dropTableScript removes the runner's table (tests and uninstall). */
export function dropTableScript(table: string): string {
  return `table inet ${table}\ndelete table inet ${table}\n`;
}

/** policyRules are the rules of one sandbox's chain. */
export function policyRules(rules: SandboxRules): string[] {
  const { policy, mark } = rules;
  const cidrs = ipv4Cidrs(policy.cidrs);
  switch (policy.mode) {
    case "allow-all":
      return ["accept"];
    case "allow-public":
      return [`ip daddr @private4 ${reject}`, "accept"];
    case "cidrs":
      return [...(cidrs.length > 0 ? [`ip daddr { ${cidrs.join(", ")} } accept`] : []), reject];
    case "domains":
      return [
        `ct state established,related ct mark ${mark} accept`,
        `ip daddr @${setName(rules.key)} ct mark set ${mark} accept`,
        ...(cidrs.length > 0
          ? [`ip daddr { ${cidrs.join(", ")} } ct mark set ${mark} accept`]
          : []),
        reject,
      ];
    case "block":
      return [reject];
  }
}

/**
 * applyScript installs or replaces one sandbox's rules in one transaction: its chain (and,
 * for domain policies, its set of answered addresses, emptied when the policy changes), its
 * entry in the verdict map and its DNS permission. `previous` is the address it had, if any.
 */
export function applyScript(
  scope: FirewallScope,
  rules: SandboxRules,
  keepAnswers: boolean,
): string {
  const t = `inet ${scope.table}`;
  const chain = chainName(rules.key);
  const set = setName(rules.key);
  const lines = [
    `add chain ${t} ${chain}`,
    `flush chain ${t} ${chain}`,
    `add set ${t} ${set} { type ipv4_addr; flags timeout; }`,
  ];
  if (!keepAnswers) lines.push(`flush set ${t} ${set}`);
  for (const rule of policyRules(rules)) lines.push(`add rule ${t} ${chain} ${rule}`);
  // add-then-delete makes the deletes safe when the elements do not exist yet.
  lines.push(
    `add element ${t} sandbox_policy { ${rules.address} : jump ${chain} }`,
    `delete element ${t} sandbox_policy { ${rules.address} }`,
    `add element ${t} sandbox_policy { ${rules.address} : jump ${chain} }`,
    `add element ${t} dns_clients { ${rules.address} }`,
  );
  if (
    rules.policy.mode !== "allow-all" &&
    rules.policy.mode !== "allow-public" &&
    rules.policy.mode !== "domains"
  ) {
    lines.push(`delete element ${t} dns_clients { ${rules.address} }`);
  }
  return `${lines.join("\n")}\n`;
}

/** removeScript deletes one sandbox's rules, map entry and DNS permission. */
export function removeScript(scope: FirewallScope, key: string, address: string): string {
  const t = `inet ${scope.table}`;
  const chain = chainName(key);
  // Each add makes the delete after it safe when the object does not exist.
  return [
    `add chain ${t} ${chain}`,
    `add element ${t} sandbox_policy { ${address} : jump ${chain} }`,
    `delete element ${t} sandbox_policy { ${address} }`,
    `add element ${t} dns_clients { ${address} }`,
    `delete element ${t} dns_clients { ${address} }`,
    `delete chain ${t} ${chain}`,
    `add set ${t} ${setName(key)} { type ipv4_addr; flags timeout; }`,
    `delete set ${t} ${setName(key)}`,
    "",
  ].join("\n");
}

/** allowAnswersScript adds answered addresses to a sandbox's set, (re)setting their timeouts. */
export function allowAnswersScript(
  scope: FirewallScope,
  key: string,
  answers: Array<{ address: string; timeoutSeconds: number }>,
): string {
  const t = `inet ${scope.table}`;
  const set = setName(key);
  const lines: string[] = [];
  for (const a of answers) {
    lines.push(
      `add element ${t} ${set} { ${a.address} }`,
      `delete element ${t} ${set} { ${a.address} }`,
      `add element ${t} ${set} { ${a.address} timeout ${a.timeoutSeconds}s }`,
    );
  }
  return `${lines.join("\n")}\n`;
}
