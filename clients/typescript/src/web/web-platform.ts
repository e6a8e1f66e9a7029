// The browser platform: the Connect protocol over fetch (connect-web). Browsers cannot send
// client streams, so uploads use the unary WriteFile; everything else is unary or a server
// stream. There is no environment: pass apiKey and apiUrl explicitly.
import type { Interceptor, Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import type { Platform } from "../core/rpc.js";

/** createWebPlatform makes the browser platform. */
export function createWebPlatform(): Platform {
  return {
    name: "web",
    clientStreaming: false,
    createTransport(baseUrl: string, interceptors: Interceptor[]): Transport {
      return createConnectTransport({ baseUrl, interceptors, useBinaryFormat: true });
    },
    close() {},
    env(): string | undefined {
      return undefined;
    },
  };
}
