// `cove key create|list|get|revoke`: ApiKeyService over the API server. `create` prints only the
// secret on stdout (so `key=$(cove key create …)` works) and says on stderr that it is shown once.
import { toJson } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type ApiKey, ApiKeySchema, ApiKeyState } from "@cove/gen-ts/cove/iam/v1/api_key_pb.js";
import type { ParsedArgs } from "../args.js";
import { api } from "../clients.js";
import type { Context } from "../context.js";
import { UsageError } from "../errors.js";
import { boolFlag, intFlag, listFlag, stringFlag } from "../flags.js";
import { age, enumName, isoTime, printFields, printJson, printTable } from "../output.js";

const CALL = { timeoutMs: 30_000 };

/** apiKeyJson is a key in proto3 JSON (never its secret). */
export function apiKeyJson(key: ApiKey | undefined): unknown {
  return key ? toJson(ApiKeySchema, key) : null;
}

function stateName(state: ApiKeyState): string {
  return enumName(ApiKeyState, state);
}

/** createKey is `cove key create NAME --scope SCOPE…`. */
export async function createKey(parsed: ParsedArgs, ctx: Context): Promise<number> {
  const [name = ""] = parsed.args;
  const scopes = listFlag(parsed, "scope");
  if (scopes.length === 0) {
    throw new UsageError("name at least one --scope (e.g. --scope sandboxes:read, or --scope '*')");
  }
  const expiresIn = intFlag(parsed, "expires-in", { min: 1, max: 10 * 365 * 86400 });
  const res = await api(ctx).apiKeys.createApiKey(
    {
      name,
      scopes,
      organizationId: stringFlag(parsed, "org") ?? "",
      expireTime:
        expiresIn === undefined
          ? undefined
          : timestampFromDate(new Date(Date.now() + expiresIn * 1000)),
    },
    CALL,
  );
  if (boolFlag(parsed, "json")) {
    printJson(ctx.io, { apiKey: apiKeyJson(res.apiKey), secret: res.secret });
    return 0;
  }
  ctx.io.stdout.write(`${res.secret}\n`);
  ctx.io.stderr.write(
    `created API key ${res.apiKey?.apiKeyId} (${res.apiKey?.keyPrefix}…); the secret above is shown only now\n`,
  );
  return 0;
}

/** listKeys is `cove key list` (active keys; --state for others). */
export async function listKeys(parsed: ParsedArgs, ctx: Context): Promise<number> {
  const states = listFlag(parsed, "state").map((s) => {
    const v = ApiKeyState[s.toUpperCase() as keyof typeof ApiKeyState];
    if (v === undefined || v === ApiKeyState.UNSPECIFIED) {
      throw new UsageError(`--state must be active, expired or revoked, not ${JSON.stringify(s)}`);
    }
    return v;
  });
  const all: ApiKey[] = [];
  let pageToken = "";
  do {
    const page = await api(ctx).apiKeys.listApiKeys({ pageSize: 500, pageToken, states }, CALL);
    all.push(...page.apiKeys);
    pageToken = page.nextPageToken;
  } while (pageToken);
  if (boolFlag(parsed, "json")) {
    printJson(ctx.io, all.map(apiKeyJson));
    return 0;
  }
  if (all.length === 0) {
    ctx.io.stderr.write("no API keys\n");
    return 0;
  }
  printTable(
    ctx.io,
    ["ID", "NAME", "PREFIX", "STATE", "SCOPES", "AGE"],
    all.map((k) => [
      k.apiKeyId,
      k.name,
      k.keyPrefix,
      stateName(k.state),
      k.scopes.join(","),
      age(k.createTime),
    ]),
  );
  return 0;
}

function printKey(ctx: Context, parsed: ParsedArgs, key: ApiKey | undefined): void {
  if (boolFlag(parsed, "json") || !key) {
    printJson(ctx.io, apiKeyJson(key));
    return;
  }
  printFields(ctx.io, [
    ["id", key.apiKeyId],
    ["name", key.name],
    ["prefix", key.keyPrefix],
    ["state", stateName(key.state)],
    ["scopes", key.scopes.join(",")],
    ["user", key.createdByUserId],
    ["created", isoTime(key.createTime)],
    ["expires", isoTime(key.expireTime) || "never"],
    ["last used", isoTime(key.lastUseTime) || "never"],
    ...(key.revokeTime ? ([["revoked", isoTime(key.revokeTime)]] as [string, string][]) : []),
  ]);
}

/** getKey is `cove key get ID`. */
export async function getKey(parsed: ParsedArgs, ctx: Context): Promise<number> {
  const [apiKeyId = ""] = parsed.args;
  const { apiKey } = await api(ctx).apiKeys.getApiKey({ apiKeyId }, CALL);
  printKey(ctx, parsed, apiKey);
  return 0;
}

/** revokeKey is `cove key revoke ID`: the key stops working at once. */
export async function revokeKey(parsed: ParsedArgs, ctx: Context): Promise<number> {
  const [apiKeyId = ""] = parsed.args;
  const { apiKey } = await api(ctx).apiKeys.revokeApiKey({ apiKeyId }, CALL);
  if (boolFlag(parsed, "json")) printJson(ctx.io, apiKeyJson(apiKey));
  else ctx.io.stdout.write(`${apiKeyId} revoked\n`);
  return 0;
}
