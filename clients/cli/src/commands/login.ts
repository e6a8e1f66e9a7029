// `cove login`: check an API key against the server and store it, with the URLs, in the config
// file (0600); `cove logout` forgets the key.
import * as fs from "node:fs";
import type { ParsedArgs } from "../args.js";
import { createApiClients } from "../clients.js";
import {
  checkUrl,
  configPath,
  DEFAULT_API_URL,
  readConfig,
  type StoredConfig,
  writeConfig,
} from "../config.js";
import type { Context } from "../context.js";
import { UsageError } from "../errors.js";
import { boolFlag, intFlag, stringFlag } from "../flags.js";

/** readKeyFromStdin reads a key piped in (for `--api-key -`), trimmed. */
async function readKeyFromStdin(ctx: Context): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of ctx.io.stdin as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8").trim();
}

/** login is `cove login`. */
export async function login(parsed: ParsedArgs, ctx: Context): Promise<number> {
  const file = configPath(ctx.io.env);
  const stored = readConfig(file);
  let apiKey = stringFlag(parsed, "api-key");
  if (apiKey === undefined) {
    throw new UsageError("`cove login` needs --api-key KEY (or --api-key - to read it from stdin)");
  }
  if (apiKey === "-") apiKey = await readKeyFromStdin(ctx);
  if (apiKey === "") throw new UsageError("the API key is empty");
  const apiUrl = checkUrl(
    stringFlag(parsed, "api-url") ?? stored.apiUrl ?? DEFAULT_API_URL,
    "--api-url",
  );
  const proxyUrl = stringFlag(parsed, "proxy-url");
  const next: StoredConfig = {
    ...stored,
    apiUrl,
    apiKey,
    ...(proxyUrl !== undefined
      ? { proxyUrl: proxyUrl === "" ? undefined : checkUrl(proxyUrl, "--proxy-url") }
      : {}),
  };
  const sshHost = stringFlag(parsed, "ssh-host");
  if (sshHost !== undefined) next.sshHost = sshHost || undefined;
  const sshPort = intFlag(parsed, "ssh-port", { min: 1, max: 65_535 });
  if (sshPort !== undefined) next.sshPort = sshPort;

  let organization = "";
  if (!boolFlag(parsed, "no-verify")) {
    const api = createApiClients({ ...next, apiUrl, file });
    const res = await api.organizations.getOrganization({}, { timeoutMs: 15_000 });
    organization = res.organization?.name || res.organization?.organizationId || "";
  }
  writeConfig(file, next);
  ctx.io.stderr.write(
    `Logged in to ${apiUrl}${organization ? ` (organization ${organization})` : ""}; settings saved in ${file}\n`,
  );
  return 0;
}

/** logout is `cove logout`. */
export async function logout(_parsed: ParsedArgs, ctx: Context): Promise<number> {
  const file = configPath(ctx.io.env);
  if (!fs.existsSync(file)) {
    ctx.io.stderr.write("not logged in\n");
    return 0;
  }
  const { apiKey: _forgotten, ...rest } = readConfig(file);
  writeConfig(file, rest);
  ctx.io.stderr.write(`API key removed from ${file}\n`);
  return 0;
}
