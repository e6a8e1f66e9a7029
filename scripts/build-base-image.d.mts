// Types for build-base-image.mjs, so TypeScript code and tests can name and build the image.

/** The image repository, "cove/sandbox". */
export const BASE_IMAGE_REPOSITORY: string;
/** `0.1.0-<first 12 hex digits of the recipe's SHA-256>`. */
export const BASE_IMAGE_VERSION: string;
/** The default sandbox image, `cove/sandbox:<version>`. */
export const BASE_IMAGE: string;
/** "cove/sandbox:latest", moved to each build. */
export const BASE_IMAGE_LATEST: string;
/** The Debian packages the image is built from. */
export const BASE_IMAGE_PACKAGES: string[];
/** The unprivileged user in the image. */
export const BASE_IMAGE_USER: {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
};
/** Where the build log is written. */
export const baseImageLog: string;

/** The machine's Debian mirror for the suite and the apt sources list written into the image. */
export function aptSources(suite?: string): { mirror: string; list: string };

/** ensureBaseImage builds the image unless it exists (or force is set); see the script. */
export function ensureBaseImage(options?: {
  force?: boolean;
  log?: (line: string) => void;
}): Promise<{ image: string; built: boolean; seconds: number; sizeBytes: number }>;
