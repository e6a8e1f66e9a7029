// Where the CLI finds its server and key: ~/.config/cove/config.json (XDG_CONFIG_HOME honoured,
// written 0600), overridden by COVE_API_URL, COVE_API_KEY, COVE_PROXY_URL, COVE_SSH_HOST and
// COVE_SSH_PORT.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CliError } from "./errors.js";

/** What `cove login` stores. */
export interface StoredConfig {
  /** The API server's URL, e.g. http://127.0.0.1:3000. */
  apiUrl?: string;
  /** The API key (cove_sk_…). */
  apiKey?: string;
  /** The proxy's URL for toolbox calls; unset means the sandbox's own toolbox_url. */
  proxyUrl?: string;
  /** The SSH gateway's host; unset means what the server says. */
  sshHost?: string;
  /** The SSH gateway's port; unset means what the server says. */
  sshPort?: number;
}

/** The settings a command runs with, after the environment's overrides. */
export interface ResolvedConfig extends StoredConfig {
  /** The API server's URL (default http://127.0.0.1:3000). */
  apiUrl: string;
  /** The config file these came from (which may not exist). */
  file: string;
}

/** The API URL used when nothing else says. */
export const DEFAULT_API_URL = "http://127.0.0.1:3000";

/** configPath is $XDG_CONFIG_HOME/cove/config.json, or ~/.config/cove/config.json. */
export function configPath(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_CONFIG_HOME || path.join(env.HOME || os.homedir(), ".config");
  return path.join(base, "cove", "config.json");
}

/** readConfig reads the config file; a missing file is an empty config. */
export function readConfig(file: string): StoredConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error();
    return value as StoredConfig;
  } catch {
    throw new CliError(`${file} is not a JSON object`, "fix it, or run `cove login` to rewrite it");
  }
}

/** writeConfig replaces the config file atomically, readable by its owner only (0600). */
export function writeConfig(file: string, config: StoredConfig): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const temporary = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temporary, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  fs.chmodSync(temporary, 0o600);
  fs.renameSync(temporary, file);
}

/** resolveConfig merges the config file with the COVE_* environment (which wins). */
export function resolveConfig(env: NodeJS.ProcessEnv): ResolvedConfig {
  const file = configPath(env);
  const stored = readConfig(file);
  const sshPort = env.COVE_SSH_PORT ? Number(env.COVE_SSH_PORT) : stored.sshPort;
  if (sshPort !== undefined && !(Number.isInteger(sshPort) && sshPort > 0 && sshPort < 65536)) {
    throw new CliError(`the SSH port ${sshPort} is not a port number`);
  }
  return {
    file,
    apiUrl: env.COVE_API_URL || stored.apiUrl || DEFAULT_API_URL,
    apiKey: env.COVE_API_KEY || stored.apiKey,
    proxyUrl: env.COVE_PROXY_URL || stored.proxyUrl,
    sshHost: env.COVE_SSH_HOST || stored.sshHost,
    sshPort,
  };
}

/** checkUrl throws a CliError unless value is an http(s) URL. */
export function checkUrl(value: string, what: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new CliError(
      `${what} ${JSON.stringify(value)} is not a URL`,
      "e.g. http://127.0.0.1:3000",
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new CliError(`${what} must be an http:// or https:// URL`);
  }
  return value.replace(/\/+$/, "");
}
