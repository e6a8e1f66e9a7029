// The pure parts of egress enforcement: name patterns, address classes, the runner's own
// policy check, the DNS codec (compression, CNAME chains) and the per-sandbox nft rules.
import { buildQuery, buildResponse, DnsRcode, DnsType, parseMessage } from "./dns-message.js";
import { checkPolicy, domainAllowed, isDomainPattern, isPublicIpv4 } from "./egress-policy.js";
import { applyScript, policyRules } from "./nft-ruleset.js";

test("a pattern matches itself; a wildcard matches every name below, never its apex", () => {
  const patterns = ["pypi.org", "*.pythonhosted.org"];
  expect(domainAllowed(patterns, "pypi.org")).toBe(true);
  expect(domainAllowed(patterns, "PyPI.org.")).toBe(true);
  expect(domainAllowed(patterns, "evil-pypi.org")).toBe(false);
  expect(domainAllowed(patterns, "pypi.org.evil.test")).toBe(false);
  expect(domainAllowed(patterns, "files.pythonhosted.org")).toBe(true);
  expect(domainAllowed(patterns, "a.b.pythonhosted.org")).toBe(true);
  expect(domainAllowed(patterns, "pythonhosted.org")).toBe(false);
  expect(domainAllowed(patterns, "xpythonhosted.org")).toBe(false);
  expect(["*.a.org", "a.org", "x-y.a.org"].every(isDomainPattern)).toBe(true);
  expect(
    ["*", "*.org", "a..org", "1.2.3.4", "a.org/x", "-a.org", `${"a".repeat(64)}.org`].some(
      isDomainPattern,
    ),
  ).toBe(false);
});

test("public addresses exclude private, CGNAT, loopback, link-local, multicast and reserved", () => {
  for (const ip of ["203.0.113.10", "1.1.1.1", "198.51.100.7", "172.32.0.1"])
    expect(isPublicIpv4(ip)).toBe(true);
  for (const ip of [
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "100.64.0.1",
    "127.0.0.1",
    "169.254.169.254",
    "0.1.2.3",
    "224.0.0.1",
    "240.0.0.1",
    "255.255.255.255",
    "::1",
    "nonsense",
  ]) {
    expect(isPublicIpv4(ip)).toBe(false);
  }
});

test("the runner's own check refuses what must never reach nft", () => {
  expect(() => checkPolicy({ mode: "cidrs", cidrs: ["1.2.3.4/33"], domains: [] })).toThrow(
    /allow_cidrs\[0\]/,
  );
  expect(() =>
    checkPolicy({ mode: "cidrs", cidrs: ["1.2.3.4/32; flush ruleset"], domains: [] }),
  ).toThrow(/CIDR/);
  expect(() => checkPolicy({ mode: "domains", cidrs: [], domains: ['a.org" } ; flush'] })).toThrow(
    /allow_domains\[0\]/,
  );
  expect(() => checkPolicy({ mode: "domains", cidrs: [], domains: [] })).toThrow(
    /must not be empty/,
  );
  expect(checkPolicy({ mode: "allow-all", cidrs: ["1.1.1.1/32"], domains: ["a.org"] })).toEqual({
    mode: "allow-all",
    cidrs: [],
    domains: [],
  });
});

test("DNS: compressed answers and CNAME chains are read; responses carry only A and CNAME", () => {
  const query = buildQuery(0x1234, "cdn.example.test", DnsType.A);
  expect(parseMessage(query).question).toEqual({
    name: "cdn.example.test",
    type: DnsType.A,
    klass: 1,
  });
  const response = buildResponse({
    id: 0x1234,
    recursionDesired: true,
    question: { name: "cdn.example.test", type: DnsType.A, klass: 1 },
    rcode: DnsRcode.NOERROR,
    answers: [
      {
        name: "cdn.example.test",
        type: DnsType.CNAME,
        klass: 1,
        ttl: 30,
        target: "edge.provider.test",
      },
      { name: "edge.provider.test", type: DnsType.A, klass: 1, ttl: 60, address: "203.0.113.10" },
    ],
  });
  const parsed = parseMessage(response);
  expect(parsed).toMatchObject({ id: 0x1234, response: true, rcode: 0, truncated: false });
  expect(parsed.answers.map((a) => a.target ?? a.address)).toEqual([
    "edge.provider.test",
    "203.0.113.10",
  ]);
  // A hand-made answer whose owner name is a compression pointer to the question.
  const header = Buffer.from([0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
  const question = query.subarray(12);
  const record = Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 9, 0, 4, 203, 0, 113, 20]);
  const compressed = parseMessage(Buffer.concat([header, question, record]));
  expect(compressed.answers).toEqual([
    { name: "cdn.example.test", type: 1, klass: 1, ttl: 9, address: "203.0.113.20" },
  ]);
  // A pointer loop is refused, not followed forever.
  const loop = Buffer.concat([header, Buffer.from([0xc0, 12, 0, 1, 0, 1])]);
  expect(() => parseMessage(loop)).toThrow(/pointer loop/);
  // Too many records for 512 bytes: truncated, so the client retries over TCP.
  const many = buildResponse({
    id: 1,
    recursionDesired: true,
    question: { name: "a.test", type: 1, klass: 1 },
    rcode: 0,
    answers: Array.from({ length: 40 }, (_, i) => ({
      name: "a.test",
      type: 1,
      klass: 1,
      ttl: 1,
      address: `203.0.113.${i}`,
    })),
    maxBytes: 512,
  });
  expect(many.length).toBeLessThanOrEqual(512);
  expect(parseMessage(many).truncated).toBe(true);
});

test("each mode's chain: domains accept only answered addresses and marked connections", () => {
  const rules = (mode: "allow-all" | "allow-public" | "cidrs" | "domains" | "block") =>
    policyRules({
      key: "k",
      address: "198.51.100.70",
      mark: 7,
      policy: { mode, cidrs: ["203.0.113.0/24", "2001:db8::/32"], domains: ["a.org"] },
    });
  expect(rules("allow-all")).toEqual(["accept"]);
  expect(rules("allow-public")[0]).toMatch(/^ip daddr @private4 reject/);
  expect(rules("cidrs")).toEqual([
    "ip daddr { 203.0.113.0/24 } accept",
    "reject with icmpx type admin-prohibited",
  ]);
  expect(rules("domains")).toEqual([
    "ct state established,related ct mark 7 accept",
    "ip daddr @dom_k ct mark set 7 accept",
    "ip daddr { 203.0.113.0/24 } ct mark set 7 accept",
    "reject with icmpx type admin-prohibited",
  ]);
  const script = applyScript(
    { table: "t", bridge: "br", gateway: "198.51.100.65" },
    {
      key: "k",
      address: "198.51.100.70",
      mark: 7,
      policy: { mode: "cidrs", cidrs: ["203.0.113.0/24"], domains: [] },
    },
    false,
  );
  // Not a DNS client: added and removed in the same transaction.
  expect(script).toMatch(
    /add element inet t dns_clients \{ 198\.51\.100\.70 \}\ndelete element inet t dns_clients/,
  );
});
