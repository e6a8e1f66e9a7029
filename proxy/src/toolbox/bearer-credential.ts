import type { Credential } from "../domain/routes.js";

/**
 * Prefixes of Cove's secrets, as the server mints them: API keys "cove_sk_", sandbox tokens
 * "cvt_", preview tokens "cvp_", SSH tokens "cvs_".
 */
const PREFIXES: [string, Credential["kind"]][] = [
  ["cove_sk_", "apiKey"],
  ["cvt_", "sandboxToken"],
  ["cvp_", "previewToken"],
  ["cvs_", "sshToken"],
];

/** The longest secret the proxy passes on; anything longer is not a Cove credential. */
const MAX_SECRET_LENGTH = 512;

/**
 * bearerCredential reads "Bearer <secret>" from an authorization header. A secret with a Cove
 * prefix is that kind of credential; with `strict`, any other bearer secret is treated as an
 * API key (so the server says API_KEY_INVALID), otherwise it is not Cove's and is left alone
 * (previews: the app may use its own bearer tokens). Returns undefined when there is none.
 */
export function bearerCredential(
  header: string | string[] | undefined,
  strict: boolean,
): Exclude<Credential, { kind: "none" }> | undefined {
  if (typeof header !== "string") return undefined;
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  const secret = match?.[1];
  if (!secret || secret.length > MAX_SECRET_LENGTH) return undefined;
  for (const [prefix, kind] of PREFIXES) {
    if (secret.startsWith(prefix)) return { kind, secret } as Exclude<Credential, { kind: "none" }>;
  }
  return strict ? { kind: "apiKey", secret } : undefined;
}

/** isCoveCredentialHeader says whether an authorization header carries a Cove secret. */
export function isCoveCredentialHeader(header: string | string[] | undefined): boolean {
  return bearerCredential(header, false) !== undefined;
}
