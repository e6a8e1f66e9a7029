// Registry credentials for one pull, build or push: handed to the engine in the
// X-Registry-Auth / X-Registry-Config headers and nowhere else. They are never logged, never
// stored, and every message that leaves the runner is scrubbed of them first.

/** Credentials for one registry (RegistryCredentials in the runner protocol). */
export interface RegistryAuth {
  /** Registry host, e.g. "ghcr.io" or "127.0.0.1:5000"; "" means the image's own registry. */
  server: string;
  /** User name. */
  username: string;
  /** Password or token. */
  password: string;
}

/** The engine's AuthConfig (X-Registry-Auth) for one registry. */
export interface EngineAuthConfig {
  /** User name. */
  username: string;
  /** Password or token. */
  password: string;
  /** The registry host. */
  serveraddress: string;
}

/** toAuthConfig turns credentials into the engine's AuthConfig; undefined when there are none. */
export function toAuthConfig(
  auth: RegistryAuth | undefined,
  registry: string,
): EngineAuthConfig | undefined {
  if (!auth || (auth.username === "" && auth.password === "")) return undefined;
  return {
    username: auth.username,
    password: auth.password,
    serveraddress: auth.server || registry,
  };
}

/**
 * toRegistryConfig builds a build's X-Registry-Config (credentials by registry host) so the
 * builder can pull private base images; undefined when there are none.
 */
export function toRegistryConfig(
  auth: RegistryAuth | undefined,
  registry: string,
): Record<string, { username: string; password: string }> | undefined {
  const config = toAuthConfig(auth, registry);
  if (!config) return undefined;
  return { [config.serveraddress]: { username: config.username, password: config.password } };
}

/**
 * createRedactor returns a function that replaces every form of the secret a message could
 * carry (the password itself, user:password, and their base64) with "[redacted]".
 */
export function createRedactor(auth: RegistryAuth | undefined): (text: string) => string {
  const secrets: string[] = [];
  if (auth && auth.password.length > 0) {
    const pair = `${auth.username}:${auth.password}`;
    secrets.push(
      pair,
      Buffer.from(pair).toString("base64"),
      Buffer.from(JSON.stringify({ username: auth.username, password: auth.password })).toString(
        "base64",
      ),
      auth.password,
    );
    if (auth.password.length >= 4) secrets.push(Buffer.from(auth.password).toString("base64"));
  }
  const sorted = [...new Set(secrets)]
    .filter((s) => s.length > 0)
    .sort((a, b) => b.length - a.length);
  return (text) => {
    let out = text;
    for (const secret of sorted) out = out.split(secret).join("[redacted]");
    return out;
  };
}
