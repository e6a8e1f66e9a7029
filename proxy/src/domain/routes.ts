/** How a caller reaches into a sandbox, as the proxy asks the server about it. */
export type AccessKind = "toolbox" | "preview" | "ssh";

/** The credential a caller presented (at most one). */
export type Credential =
  | { kind: "apiKey"; secret: string }
  | { kind: "sandboxToken"; secret: string }
  | { kind: "previewToken"; secret: string }
  | { kind: "signedUrlToken"; secret: string }
  | { kind: "sshToken"; secret: string }
  | { kind: "none" };

/** A question for the server: may this caller reach this sandbox this way? */
export interface RouteQuery {
  /** The sandbox ("" for SSH, where the token names it). */
  sandboxId: string;
  /** How the caller wants in. */
  access: AccessKind;
  /** The port, for previews (0 otherwise). */
  port: number;
  /** What the caller presented. */
  credential: Credential;
  /** The caller's address, for the server's rate limits and audit. */
  clientIp: string;
}

/** The server's answer: where the sandbox is and what the caller may do. */
export interface Route {
  /** The sandbox id (filled in from the token for SSH). */
  sandboxId: string;
  /** Its organization. */
  organizationId: string;
  /** Whether previews need no credential. */
  public: boolean;
  /** The runner that holds it. */
  runnerId: string;
  /** The runner's toolbox gateway, e.g. http://127.0.0.1:3003. */
  gatewayUrl: string;
  /** For preview and signed-URL tokens: the one port they open (0 = any). */
  allowedPort: number;
  /** The sandbox's default OS user. */
  osUser: string;
  /** The credential's id (for invalidation), or "". */
  credentialId: string;
  /** When the proxy must ask again, at the latest (ms since epoch). */
  expiresAt: number;
}

/**
 * RouteResolver answers RouteQueries, with a cache that WatchRoutes invalidates. Failures are
 * CoveErrors carrying the server's code and reason (NOT_FOUND, UNAUTHENTICATED, …), which the
 * proxy passes on to the caller unchanged.
 */
export interface RouteResolver {
  /** resolve returns the route or throws the server's refusal. */
  resolve(query: RouteQuery): Promise<Route>;
  /** onInvalidate calls listener with the ids of sandboxes/credentials whose routes were dropped, so open connections can be closed. */
  onInvalidate(
    listener: (change: { sandboxId: string; credentialId: string; runnerId: string }) => void,
  ): () => void;
  /** recordActivity notes that a sandbox was used (batched to the server). */
  recordActivity(sandboxId: string): void;
  /** close stops the watch and flushes activity. */
  close(): Promise<void>;
}
