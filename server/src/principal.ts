import { createContextKey } from "@connectrpc/connect";

/** Who is calling, as the auth interceptor established it. */
export type Principal =
  | {
      /** An organization's API key. */
      kind: "apiKey";
      /** The organization every query is scoped to. */
      organizationId: string;
      /** The key's id (for audit). */
      apiKeyId: string;
      /** The user who created the key, if any. */
      userId: string | undefined;
      /** Scopes such as "sandboxes:write", "*" or "operator". */
      scopes: readonly string[];
      /** When the key stops working; undefined when it never expires. */
      expireTime?: Date;
    }
  | {
      /** A runner on its command stream. */
      kind: "runner";
      /** The runner's id. */
      runnerId: string;
    }
  | {
      /** The proxy, calling EdgeService. */
      kind: "proxy";
    };

/** kPrincipal carries the caller through Connect's context values; undefined before auth. */
export const kPrincipal = createContextKey<Principal | undefined>(undefined, {
  description: "caller",
});

/** kRequestId carries the request id for logs and audit rows. */
export const kRequestId = createContextKey<string>("", { description: "request id" });
