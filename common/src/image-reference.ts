/**
 * Container image references, parsed with the grammar of the distribution project's reference
 * package (what Docker itself accepts), so nothing else ever reaches the engine:
 *
 *   reference  := name [ ":" tag ] [ "@" digest ]
 *   name       := [ domain "/" ] path          (at most 255 characters)
 *   domain     := host [ ":" port ]            host: DNS name (letters, digits, inner "-",
 *                                              "."-separated) or a bracketed IPv6 address
 *   path       := component ( "/" component )*
 *   component  := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
 *   tag        := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
 *   digest     := "sha256:" 64 hex digits | "sha512:" 128 hex digits
 *
 * The first "/"-separated part is the domain only when it contains "." or ":", is
 * "localhost", or has upper case (as Docker decides). So "..", "%2e", a leading or doubled
 * "/", upper-case repositories, spaces, ";" and control characters are all refused, and a
 * valid reference can never change an engine URL's path. A bare 64-hex-digit name (an image
 * id, not a name) is refused as Docker refuses it.
 */
import { isIPv6 } from "node:net";

/** A parsed image reference. */
export interface ImageReference {
  /** Registry host[:port], "" when the reference names none (Docker Hub). */
  domain: string;
  /** Repository path, e.g. "library/python" after normalization, "python" as written. */
  path: string;
  /** Tag, "" when none was written. */
  tag: string;
  /** Digest ("sha256:<hex>"), "" when none was written. */
  digest: string;
}

/** The outcome of parseImageReference: the reference, or what is wrong with the text. */
export type ParsedImageReference =
  | { ok: true; reference: ImageReference }
  | { ok: false; error: string };

/** Longest name (domain and path), in characters, as in the reference package. */
export const MAX_IMAGE_NAME_LENGTH = 255;

const DOMAIN_COMPONENT = /^[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?$/;
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGESTS: Record<string, RegExp> = {
  sha256: /^[a-f0-9]{64}$/,
  sha512: /^[a-f0-9]{128}$/,
};
const IMAGE_ID = /^[a-f0-9]{64}$/;

function checkDomain(domain: string): string | undefined {
  let host = domain;
  let port = "";
  if (domain.startsWith("[")) {
    const close = domain.indexOf("]");
    if (close < 0) return `registry host ${JSON.stringify(domain)} has an unclosed "["`;
    host = domain.slice(1, close);
    const rest = domain.slice(close + 1);
    if (rest !== "" && !rest.startsWith(":"))
      return `registry ${JSON.stringify(domain)} is malformed`;
    port = rest.slice(1);
    if (!isIPv6(host)) return `registry host [${host}] is not an IPv6 address`;
    if (rest !== "" && !/^[0-9]{1,5}$/.test(port)) return "the registry port must be a number";
    return undefined;
  }
  const colon = domain.lastIndexOf(":");
  if (colon >= 0) {
    host = domain.slice(0, colon);
    port = domain.slice(colon + 1);
    if (!/^[0-9]{1,5}$/.test(port) || Number(port) > 65535)
      return `registry port ${JSON.stringify(port)} must be a number up to 65535`;
  }
  if (host.split(".").some((part) => !DOMAIN_COMPONENT.test(part)))
    return `registry host ${JSON.stringify(host)} must be DNS labels of letters, digits and inner "-" separated by "."`;
  return undefined;
}

/** parseImageReference parses `text` by the grammar in the file comment. */
export function parseImageReference(text: string): ParsedImageReference {
  const fail = (error: string): ParsedImageReference => ({ ok: false, error });
  if (text === "") return fail("must not be empty");
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to find them.
  if (/[\u0000-\u0020\u007f-\u009f]/.test(text))
    return fail("must not contain spaces or control characters");
  let rest = text;
  let digest = "";
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    const [algorithm = "", hex, extra] = digest.split(":");
    const pattern = DIGESTS[algorithm];
    if (!pattern || hex === undefined || extra !== undefined || !pattern.test(hex))
      return fail(
        'the digest must be "sha256:" and 64 lower-case hex digits (or "sha512:" and 128)',
      );
  }
  let tag = "";
  const lastSlash = rest.lastIndexOf("/");
  const colon = rest.lastIndexOf(":");
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag))
      return fail("the tag must be 1-128 characters of [A-Za-z0-9_.-], not starting with . or -");
  }
  const name = rest;
  if (name === "") return fail("must name a repository");
  if (name.length > MAX_IMAGE_NAME_LENGTH)
    return fail(`the repository name must be at most ${MAX_IMAGE_NAME_LENGTH} characters`);
  let domain = "";
  let path = name;
  const slash = name.indexOf("/");
  if (slash >= 0) {
    const first = name.slice(0, slash);
    if (
      first.includes(".") ||
      first.includes(":") ||
      first === "localhost" ||
      first !== first.toLowerCase()
    ) {
      domain = first;
      path = name.slice(slash + 1);
      const bad = checkDomain(domain);
      if (bad) return fail(bad);
    }
  }
  const components = path.split("/");
  for (const component of components) {
    if (!PATH_COMPONENT.test(component)) {
      const shown = JSON.stringify(
        component.length > 40 ? `${component.slice(0, 40)}…` : component,
      );
      return fail(
        component !== component.toLowerCase()
          ? `the repository name must be lower case (not ${shown})`
          : component === ""
            ? 'the repository path has an empty part (a leading, trailing or doubled "/")'
            : `the repository path part ${shown} must be lower-case letters and digits, separated by ".", "_", "__" or "-" (no "..", and no separator at either end)`,
      );
    }
  }
  if (domain === "" && IMAGE_ID.test(path))
    return fail("must be an image name, not a 64-digit image id");
  return { ok: true, reference: { domain, path, tag, digest } };
}

/**
 * normalizeImageReference spells a reference out in full as Docker resolves it: Docker Hub's
 * domain "docker.io", "library/" before single-part Hub paths, and tag "latest" when neither a
 * tag nor a digest was written. Two references name the same image exactly when their
 * normalized forms are equal.
 */
export function normalizeImageReference(reference: ImageReference): ImageReference {
  const domain =
    reference.domain === "" || reference.domain === "index.docker.io"
      ? "docker.io"
      : reference.domain;
  const path =
    domain === "docker.io" && !reference.path.includes("/")
      ? `library/${reference.path}`
      : reference.path;
  const tag = reference.tag === "" && reference.digest === "" ? "latest" : reference.tag;
  return { domain, path, tag, digest: reference.digest };
}

/** formatImageReference writes a reference back as text. */
export function formatImageReference(reference: ImageReference): string {
  const name = reference.domain === "" ? reference.path : `${reference.domain}/${reference.path}`;
  return `${name}${reference.tag ? `:${reference.tag}` : ""}${reference.digest ? `@${reference.digest}` : ""}`;
}

/** repositoryOf is a normalized reference's "domain/path", the part tags and digests hang off. */
export function repositoryOf(reference: ImageReference): string {
  const full = normalizeImageReference(reference);
  return `${full.domain}/${full.path}`;
}
