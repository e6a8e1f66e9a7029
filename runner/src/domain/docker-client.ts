/**
 * The runner's Docker engine client: dockerode, with two things made safe.
 *
 * - Redirects are never followed. docker-modem follows 3xx answers itself, on a new request
 *   with no error handler: an image name with path segments made the engine answer 301 (its
 *   router cleans "/images/../x/json"), the client dialled a host named after a path part,
 *   and the unhandled getaddrinfo error ended the process. With redirects off, a 3xx is an
 *   ordinary failed call.
 * - Image names are escaped before they become part of an engine URL (imageUrlName), after
 *   the reference grammar has refused anything that is not a reference at all.
 */
import {
  formatImageReference,
  invalidArgument,
  normalizeImageReference,
  parseImageReference,
} from "@cove/common";
import Dockerode from "dockerode";

const hardened = Symbol("cove.hardened");
const IMAGE_ID = /^sha256:[0-9a-f]{64}$/;

/** The part of docker-modem's Modem this module changes. */
interface ModemInternals {
  [hardened]?: true;
  buildRequest(options: Record<string, unknown>, ...rest: unknown[]): unknown;
}

/**
 * refuseRedirects makes a dockerode client's modem send every request with maxRedirects 0, so
 * a redirect fails the call (with the modem's own error handling) instead of being followed.
 * Idempotent; returns the same client.
 */
export function refuseRedirects(docker: Dockerode): Dockerode {
  const modem = docker.modem as unknown as ModemInternals;
  if (modem[hardened]) return docker;
  const buildRequest = modem.buildRequest;
  modem.buildRequest = function (this: unknown, options, ...rest) {
    return buildRequest.call(this, { ...options, maxRedirects: 0 }, ...rest);
  };
  modem[hardened] = true;
  return docker;
}

/** createDockerClient is dockerode for the local engine (DOCKER_HOST honoured), with redirects refused. */
export function createDockerClient(options?: Dockerode.DockerOptions): Dockerode {
  return refuseRedirects(new Dockerode(options));
}

/**
 * imageUrlName turns a sandbox's image reference into the name to put in an engine URL: the
 * reference is checked with the grammar (INVALID_ARGUMENT otherwise), spelled out in full
 * ("docker.io/library/python:3.12-slim", so a bare hex name can never be taken for an image
 * id prefix) and percent-encoded, so it is one path segment whatever it contains. A full
 * content id ("sha256:" and 64 hex digits) is taken as that image.
 */
export function imageUrlName(image: string): string {
  // The runner's own pin of an exact image (restores run over the image the sandbox ran): a full
  // content id names one image, never a prefix.
  if (IMAGE_ID.test(image)) return encodeURIComponent(image);
  const parsed = parseImageReference(image);
  if (!parsed.ok) throw invalidArgument("image", parsed.error);
  return encodeURIComponent(formatImageReference(normalizeImageReference(parsed.reference)));
}
