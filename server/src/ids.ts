import { randomBytes } from "node:crypto";

const ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz";

/** randomId returns `length` lowercase alphanumerics: DNS-label and container-name safe. */
export function randomId(length = 20): string {
  const bytes = randomBytes(length);
  let out = "";
  for (const byte of bytes) out += ALPHABET[byte % ALPHABET.length];
  return out;
}

/** newId returns an id with a type prefix, e.g. "org_k3…", "key_…", "cmd_…". */
export function newId(prefix: string): string {
  return `${prefix}_${randomId(20)}`;
}

/** newSandboxId returns a sandbox id: 20 lowercase alphanumerics, no prefix (it is a DNS label). */
export function newSandboxId(): string {
  return randomId(20);
}
