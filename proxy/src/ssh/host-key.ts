import * as fs from "node:fs";
import * as path from "node:path";
import type { Logger } from "@cove/common";
import ssh2 from "ssh2";

// ssh2 is CommonJS and Node cannot see `utils` as a named export, so take it from the default.
const { utils } = ssh2;

/**
 * loadOrCreateHostKey returns the SSH host's private key (OpenSSH format) kept at keyPath. On
 * first start it generates an ed25519 key and writes it with mode 0600 (its folder 0700 when
 * created), so clients see the same host key across restarts. An existing key readable by
 * others is tightened to 0600; a file that is not a private key is an error, never replaced.
 */
export function loadOrCreateHostKey(keyPath: string, logger?: Logger): Buffer {
  let key: Buffer;
  try {
    key = fs.readFileSync(keyPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    fs.mkdirSync(path.dirname(keyPath), { recursive: true, mode: 0o700 });
    const pair = generateParsableKeyPair();
    try {
      // "wx": another process starting at the same moment keeps its key, and we read it below.
      fs.writeFileSync(keyPath, pair.private, { mode: 0o600, flag: "wx" });
      logger?.info("generated the SSH host key", { path: keyPath, publicKey: pair.public });
    } catch (writeErr) {
      if ((writeErr as NodeJS.ErrnoException).code !== "EEXIST") throw writeErr;
    }
    key = fs.readFileSync(keyPath);
  }
  const parsed = utils.parseKey(key);
  if (parsed instanceof Error || Array.isArray(parsed) || !parsed.isPrivateKey()) {
    throw new Error(`${keyPath} does not hold an unencrypted SSH private key`);
  }
  const mode = fs.statSync(keyPath).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    fs.chmodSync(keyPath, 0o600);
    logger?.warn("tightened the SSH host key's permissions to 0600", {
      path: keyPath,
      was: mode.toString(8),
    });
  }
  return key;
}

/**
 * generateParsableKeyPair makes an ed25519 key pair that ssh2 itself can read back: ssh2's
 * generator strips leading zero bytes from the public key, so about one key in 256 is
 * malformed (mscdex/ssh2#1390) — written as a host key, it would refuse every start.
 */
function generateParsableKeyPair(): { private: string; public: string } {
  for (let attempt = 0; ; attempt++) {
    const pair = utils.generateKeyPairSync("ed25519", { comment: "cove ssh gateway" });
    const priv = utils.parseKey(pair.private);
    const pub = utils.parseKey(pair.public);
    const readable = (k: unknown) => !(k instanceof Error) && !Array.isArray(k);
    if ((readable(priv) && readable(pub)) || attempt >= 16) return pair;
  }
}
