// Image references as the runner accepts them: [registry/]repository[:tag][@sha256:digest].
import { invalidArgument } from "@cove/common";

/** A parsed image reference. */
export interface ImageReference {
  /** The registry host ("docker.io" when the reference names none). */
  registry: string;
  /** The repository path within the registry, e.g. "library/alpine" or "team/app". */
  repository: string;
  /** The tag, or "" when the reference has none (then "latest" for pulls without a digest). */
  tag: string;
  /** The manifest digest "sha256:…", or "". */
  digest: string;
  /** The name as the engine shows it in RepoTags/RepoDigests (registry omitted for Docker Hub). */
  name: string;
}

const component = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const tagPattern = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const digestPattern = /^sha256:[a-f0-9]{64}$/;
const hostPattern = /^(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\[[0-9a-fA-F:]+\])(?::[0-9]{1,5})?$/;

/**
 * parseImageReference validates and splits an image reference; anything else (NUL bytes, upper
 * case repositories, empty components, options-looking "-x") is INVALID_ARGUMENT on `field`.
 */
export function parseImageReference(reference: string, field = "image"): ImageReference {
  const bad = (why: string) =>
    invalidArgument(field, `"${reference.slice(0, 200)}" is not an image reference: ${why}`);
  if (reference.length === 0) throw bad("it is empty");
  if (reference.length > 1024) throw bad("it is longer than 1024 characters");
  let rest = reference;
  let digest = "";
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!digestPattern.test(digest)) throw bad("the digest must be sha256: and 64 hex digits");
  }
  let tag = "";
  const lastSlash = rest.lastIndexOf("/");
  const colon = rest.lastIndexOf(":");
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!tagPattern.test(tag)) throw bad("the tag may hold letters, digits, _ . - (at most 128)");
  }
  const parts = rest.split("/");
  let registry = "docker.io";
  const first = parts[0] ?? "";
  if (parts.length > 1 && (first.includes(".") || first.includes(":") || first === "localhost")) {
    if (!hostPattern.test(first)) throw bad("the registry host is malformed");
    registry = first;
    parts.shift();
  }
  if (parts.length === 0 || parts.some((p) => !component.test(p))) {
    throw bad("repository components are lowercase letters, digits and single separators");
  }
  let repository = parts.join("/");
  const explicitRegistry = registry !== "docker.io";
  if (!explicitRegistry && parts.length === 1) repository = `library/${repository}`;
  const name = explicitRegistry ? `${registry}/${repository}` : parts.join("/");
  return { registry, repository, tag, digest, name };
}

/** formatReference gives the reference back in its canonical short form (name[:tag][@digest]). */
export function formatReference(ref: ImageReference): string {
  return `${ref.name}${ref.tag ? `:${ref.tag}` : ""}${ref.digest ? `@${ref.digest}` : ""}`;
}
