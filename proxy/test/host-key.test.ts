// The SSH gateway's host key: made once, readable by ssh2 every time, kept private.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import ssh2 from "ssh2";
import { loadOrCreateHostKey } from "../src/ssh/host-key.js";

const { utils } = ssh2;
let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "cove-host-key-"));
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

test("every first start makes a host key ssh2 can read (its generator spoils about one in 256)", () => {
  // 800 first starts: with the generator's own output about 95% of runs would meet a bad key.
  for (let i = 0; i < 800; i++) {
    const keyPath = path.join(dir, `k${i}`, "ssh_host_ed25519_key");
    const key = loadOrCreateHostKey(keyPath);
    const parsed = utils.parseKey(key);
    expect(parsed instanceof Error).toBe(false);
    expect(fs.statSync(keyPath).mode & 0o777).toBe(0o600);
  }
});

test("a second start reads the same key back", () => {
  const keyPath = path.join(dir, "again", "ssh_host_ed25519_key");
  const first = loadOrCreateHostKey(keyPath);
  expect(loadOrCreateHostKey(keyPath).equals(first)).toBe(true);
});
