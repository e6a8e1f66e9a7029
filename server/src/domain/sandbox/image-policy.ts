/**
 * Which images a sandbox may run is a policy, not whatever the runners' engines hold. An
 * organization may use:
 *
 * - the platform's public images: the default sandbox image, and what the operator lists in
 *   COVE_PUBLIC_IMAGES ("python:3.12-slim" allows that tag, "python:*" every tag of the
 *   repository, "name@sha256:…" one digest);
 * - (later) its own snapshots, through an OrganizationImages catalog.
 *
 * Never: another tenant's images, and the platform's internal ones (INTERNAL_REPOSITORIES:
 * test images, the daemon kit), which an operator cannot make public either. Anything else is
 * NOT_FOUND (reason IMAGE_NOT_FOUND), the same answer whether or not some engine holds the
 * image, so the API is no oracle for what exists on the runners or in other organizations.
 */
import {
  type ImageReference,
  normalizeImageReference,
  notFound,
  parseImageReference,
  repositoryOf,
} from "@cove/common";

/**
 * Repositories (normalized "domain/path", a trailing "/*" for a whole namespace) that no
 * sandbox may use: test images and the platform's own plumbing.
 */
export const INTERNAL_REPOSITORIES: readonly string[] = [
  "docker.io/cove-test/*",
  "docker.io/cove-internal/*",
  "docker.io/cove/daemon-kit",
  "docker.io/cove/kit",
];

/** Images an organization owns (its snapshots); the seam where snapshots plug in. */
export interface OrganizationImages {
  /** owns says whether the organization has an image of this normalized reference. */
  owns(organizationId: string, reference: ImageReference): Promise<boolean> | boolean;
}

/** What createImagePolicy is built from. */
export interface ImagePolicyOptions {
  /** The default sandbox image (always public). */
  defaultImage: string;
  /** Further public images (COVE_PUBLIC_IMAGES entries). */
  publicImages?: readonly string[];
  /** Organization-owned images; none when omitted. */
  organizationImages?: OrganizationImages;
}

/** ImagePolicy decides whether an organization may create a sandbox from an image. */
export interface ImagePolicy {
  /** The public entries as configured, for messages and docs. */
  readonly publicImages: readonly string[];
  /**
   * check resolves when the organization may use `image` (a reference already checked by the
   * grammar) and throws NOT_FOUND IMAGE_NOT_FOUND otherwise.
   */
  check(organizationId: string, image: string): Promise<void>;
}

/** One allow-list entry: a normalized repository and its tag ("*" any), or a digest. */
interface Entry {
  repository: string;
  tag: string;
  digest: string;
}

function parseEntry(text: string): Entry {
  const wildcard = text.endsWith(":*");
  const parsed = parseImageReference(wildcard ? text.slice(0, -2) : text);
  if (!parsed.ok) throw new Error(`public image ${JSON.stringify(text)}: ${parsed.error}`);
  if (wildcard && (parsed.reference.tag !== "" || parsed.reference.digest !== ""))
    throw new Error(`public image ${JSON.stringify(text)}: ":*" follows a repository name only`);
  const full = normalizeImageReference(parsed.reference);
  return {
    repository: repositoryOf(parsed.reference),
    tag: wildcard ? "*" : full.tag,
    digest: full.digest,
  };
}

/** isInternal says whether a normalized repository is one no sandbox may use. */
export function isInternalRepository(repository: string): boolean {
  return INTERNAL_REPOSITORIES.some((entry) =>
    entry.endsWith("/*") ? repository.startsWith(entry.slice(0, -1)) : repository === entry,
  );
}

function matches(entry: Entry, reference: ImageReference): boolean {
  const full = normalizeImageReference(reference);
  if (`${full.domain}/${full.path}` !== entry.repository) return false;
  if (entry.digest !== "")
    return full.digest === entry.digest && (full.tag === "" || full.tag === entry.tag);
  if (full.digest !== "") return false; // a pinned digest is allowed only when listed
  return entry.tag === "*" || entry.tag === full.tag;
}

/**
 * parsePublicImages reads COVE_PUBLIC_IMAGES (entries separated by commas or white space) and
 * fails at start-up on an entry that is not a reference or names an internal repository.
 */
export function parsePublicImages(value: string | undefined): string[] {
  const entries = (value ?? "").split(/[\s,]+/).filter(Boolean);
  for (const entry of entries) {
    const parsed = parseEntry(entry);
    if (isInternalRepository(parsed.repository))
      throw new Error(`COVE_PUBLIC_IMAGES: ${entry} is an internal image and cannot be public`);
  }
  return entries;
}

/** createImagePolicy builds the policy described in the file comment. */
export function createImagePolicy(options: ImagePolicyOptions): ImagePolicy {
  const publicImages = [options.defaultImage, ...(options.publicImages ?? [])];
  const entries = publicImages.map(parseEntry);
  const internal = entries.find((e) => isInternalRepository(e.repository));
  if (internal) throw new Error(`the internal image ${internal.repository} cannot be public`);
  const listed = [...new Set(publicImages)].slice(0, 10).join(", ");
  return {
    publicImages,
    async check(organizationId, image) {
      const parsed = parseImageReference(image);
      const refuse = () =>
        notFound(
          "IMAGE_NOT_FOUND",
          `image ${image} is not available to this organization; sandboxes run the platform's public images (${listed}${publicImages.length > 10 ? ", …" : ""}) or the organization's own snapshots`,
          { image: image.slice(0, 256) },
        );
      if (!parsed.ok) throw refuse();
      const reference = parsed.reference;
      if (isInternalRepository(repositoryOf(reference))) throw refuse();
      if (entries.some((entry) => matches(entry, reference))) return;
      const owned = options.organizationImages;
      if (owned && (await owned.owns(organizationId, normalizeImageReference(reference)))) return;
      throw refuse();
    },
  };
}
