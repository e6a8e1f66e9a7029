// Shared setup of the SDK's integration tests: a whole stack (server, runner, Docker, proxy) and
// a client pointed at it. Suites skip only when Docker is unreachable and COVE_REQUIRE_DOCKER is
// not 1.
import { dockerUnreachableReason } from "../../../daemon/test/docker-images.js";
import { type Stack, startStack } from "../../../test/stack.js";
import { Cove } from "../src/index.js";

const unreachable = dockerUnreachableReason();

/** describeWithDocker is describe, or describe.skip when the Docker engine is unreachable. */
export const describeWithDocker =
  unreachable !== undefined && process.env.COVE_REQUIRE_DOCKER !== "1" ? describe.skip : describe;

/** A stack and an SDK client on it. */
export interface SdkHarness {
  /** stack is the running stack. */
  stack: Stack;
  /** cove is a client with the admin key. */
  cove: Cove;
}

/** startHarness boots a stack and makes a client; the proxy URL is passed explicitly because
 * the test server reports a placeholder toolbox_url. */
export async function startHarness(name: string): Promise<SdkHarness> {
  const stack = await startStack({ name });
  const cove = new Cove({ apiKey: stack.adminKey, apiUrl: stack.apiUrl, proxyUrl: stack.proxyUrl });
  return { stack, cove };
}
