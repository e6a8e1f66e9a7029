// A sandbox's outbound network policy as the runner enforces it: the five modes of
// cove.sandbox.v1.NetworkPolicyMode, the address ranges that no mode ever reaches, and the
// rules for names in a domain allow-list. Pure functions only; enforcement is elsewhere
// (nft-ruleset.ts on the host, dns-responder.ts for names).
import { isIPv4 } from "node:net";
import { invalidArgument } from "@cove/common";

/** The runner's names for the policy modes. */
export type EgressMode = "block" | "allow-all" | "allow-public" | "cidrs" | "domains";

/** One sandbox's outbound policy. */
export interface EgressPolicy {
  /** Which mode. */
  mode: EgressMode;
  /** IPv4/IPv6 CIDR ranges ("cidrs", and optionally "domains"). */
  cidrs: string[];
  /** Name patterns ("domains" only): "pypi.org" or "*.pypi.org". */
  domains: string[];
}

/** The default policy: no network. */
export const BLOCK_ALL: EgressPolicy = Object.freeze({
  mode: "block",
  cidrs: [],
  domains: [],
}) as EgressPolicy;

/**
 * IPv4 ranges no sandbox ever reaches, whatever its policy: "this network", loopback,
 * link-local (cloud metadata at 169.254.169.254 included), multicast and the limited
 * broadcast. The runner host's own addresses are refused separately (every packet for them
 * takes the input path, which sandboxes may use only for DNS).
 */
export const ALWAYS_BLOCKED_V4 = [
  "0.0.0.0/8",
  "127.0.0.0/8",
  "169.254.0.0/16",
  "224.0.0.0/4",
  "255.255.255.255/32",
] as const;

/**
 * IPv4 ranges that "allow all but private" also refuses: RFC 1918, carrier-grade NAT (often a
 * cloud's internal network), IETF protocol assignments and the reserved 240/4. Documentation
 * ranges (TEST-NET) count as public: they are not routed on the internet anyway.
 */
export const PRIVATE_V4 = [
  "10.0.0.0/8",
  "100.64.0.0/10",
  "172.16.0.0/12",
  "192.0.0.0/24",
  "192.168.0.0/16",
  "240.0.0.0/4",
] as const;

/** Most entries in allow_cidrs and in allow_domains (sandbox.proto). */
export const MAX_POLICY_ENTRIES = 64;

const label = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** normalizeDomain lowercases a name and drops one trailing dot. */
export function normalizeDomain(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith(".") ? lower.slice(0, -1) : lower;
}

/**
 * isDomainPattern accepts "example.com" and "*.example.com": letters, digits, hyphens and
 * dots, at most 253 characters, at least two labels, not an IP address.
 */
export function isDomainPattern(pattern: string): boolean {
  const name = pattern.startsWith("*.") ? pattern.slice(2) : pattern;
  if (name.length === 0 || name.length > 253 || isIPv4(name)) return false;
  const labels = normalizeDomain(name).split(".");
  return labels.length >= 2 && labels.every((l) => label.test(l));
}

/**
 * domainAllowed says whether `name` matches one of `patterns`: "a.b" matches only "a.b";
 * "*.a.b" matches every name below a.b (any depth) but not a.b itself. Case-insensitive.
 */
export function domainAllowed(patterns: readonly string[], name: string): boolean {
  const n = normalizeDomain(name);
  return patterns.some((p) => {
    const pattern = normalizeDomain(p);
    if (pattern.startsWith("*."))
      return n.endsWith(pattern.slice(1)) && n.length > pattern.length - 1;
    return n === pattern;
  });
}

/** ipv4ToInt reads a dotted quad as an unsigned 32-bit number. */
export function ipv4ToInt(ip: string): number {
  const parts = ip.split(".").map(Number);
  return (
    ((parts[0] ?? 0) * 2 ** 24 +
      (parts[1] ?? 0) * 2 ** 16 +
      (parts[2] ?? 0) * 256 +
      (parts[3] ?? 0)) >>>
    0
  );
}

/** intToIpv4 writes an unsigned 32-bit number as a dotted quad. */
export function intToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** inCidr4 says whether an IPv4 address lies in an IPv4 CIDR range. */
export function inCidr4(ip: string, cidr: string): boolean {
  const [base = "", bitsText = "32"] = cidr.split("/");
  const bits = Number(bitsText);
  if (!isIPv4(ip) || !isIPv4(base)) return false;
  if (bits === 0) return true;
  const mask = bits === 32 ? 0xffffffff : ~(0xffffffff >>> bits) >>> 0;
  return (ipv4ToInt(ip) & mask) >>> 0 === (ipv4ToInt(base) & mask) >>> 0;
}

/** isPublicIpv4 says whether an address is outside ALWAYS_BLOCKED_V4 and PRIVATE_V4. */
export function isPublicIpv4(ip: string): boolean {
  if (!isIPv4(ip)) return false;
  return ![...ALWAYS_BLOCKED_V4, ...PRIVATE_V4].some((range) => inCidr4(ip, range));
}

/** ipv4Cidrs keeps the IPv4 entries of a CIDR list (sandboxes have no IPv6 route). */
export function ipv4Cidrs(cidrs: readonly string[]): string[] {
  return cidrs.filter((c) => isIPv4(c.split("/")[0] ?? ""));
}

/** usesDns says whether the policy's sandbox may ask the runner's DNS responder. */
export function usesDns(policy: EgressPolicy): boolean {
  return policy.mode === "allow-all" || policy.mode === "allow-public" || policy.mode === "domains";
}

/**
 * checkPolicy validates a policy as the runner receives it (the server validated it already;
 * this is the runner's own guard, so nothing malformed reaches nft): INVALID_ARGUMENT with
 * the field named.
 */
export function checkPolicy(policy: EgressPolicy): EgressPolicy {
  const cidr = /^[0-9a-fA-F.:]+\/\d{1,3}$/;
  if (policy.cidrs.length > MAX_POLICY_ENTRIES || policy.domains.length > MAX_POLICY_ENTRIES) {
    throw invalidArgument("network_policy", `at most ${MAX_POLICY_ENTRIES} entries per list`);
  }
  policy.cidrs.forEach((c, i) => {
    if (!cidr.test(c))
      throw invalidArgument(`network_policy.allow_cidrs[${i}]`, "must be a CIDR range");
    if (isIPv4(c.split("/")[0] ?? "") && Number(c.split("/")[1]) > 32) {
      throw invalidArgument(`network_policy.allow_cidrs[${i}]`, "an IPv4 prefix is at most /32");
    }
  });
  policy.domains.forEach((d, i) => {
    if (!isDomainPattern(d)) {
      throw invalidArgument(
        `network_policy.allow_domains[${i}]`,
        'must be a host name or "*." and a host name',
      );
    }
  });
  if (policy.mode === "cidrs" && policy.cidrs.length === 0) {
    throw invalidArgument("network_policy.allow_cidrs", "must not be empty with ALLOW_LIST");
  }
  if (policy.mode === "domains" && policy.domains.length === 0) {
    throw invalidArgument("network_policy.allow_domains", "must not be empty with ALLOW_DOMAINS");
  }
  return {
    mode: policy.mode,
    cidrs: policy.mode === "cidrs" || policy.mode === "domains" ? [...policy.cidrs] : [],
    domains: policy.mode === "domains" ? policy.domains.map(normalizeDomain) : [],
  };
}

/** samePolicy compares two policies entry by entry. */
export function samePolicy(a: EgressPolicy, b: EgressPolicy): boolean {
  return (
    a.mode === b.mode &&
    a.cidrs.length === b.cidrs.length &&
    a.cidrs.every((c, i) => c === b.cidrs[i]) &&
    a.domains.length === b.domains.length &&
    a.domains.every((d, i) => d === b.domains[i])
  );
}
