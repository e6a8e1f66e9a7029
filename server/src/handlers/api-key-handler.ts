import { create } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { type ApiKey, ApiKeySchema, ApiKeyState } from "@cove/gen-ts/cove/iam/v1/api_key_pb.js";
import type {
  ApiKeyService,
  CreateApiKeyRequest,
  GetApiKeyRequest,
  ListApiKeysRequest,
  RevokeApiKeyRequest,
} from "@cove/gen-ts/cove/iam/v1/api_key_service_pb.js";
import {
  type ApiKeyManager,
  type ApiKeyRecord,
  type ApiKeyStateName,
  stateOf,
} from "../domain/iam/api-keys.js";
import { kPrincipal } from "../principal.js";

/** toApiKeyProto builds the ApiKey message of a stored key (never its secret). */
export function toApiKeyProto(key: ApiKeyRecord, now = new Date()): ApiKey {
  return create(ApiKeySchema, {
    apiKeyId: key.id,
    organizationId: key.organizationId,
    name: key.name,
    keyPrefix: key.keyPrefix,
    scopes: key.scopes,
    state: ApiKeyState[stateOf(key, now)],
    createdByUserId: key.userId ?? "",
    createTime: timestampFromDate(key.createTime),
    expireTime: key.expireTime ? timestampFromDate(key.expireTime) : undefined,
    lastUseTime: key.lastUsedTime ? timestampFromDate(key.lastUsedTime) : undefined,
    revokeTime: key.revokeTime ? timestampFromDate(key.revokeTime) : undefined,
  });
}

function stateNames(states: readonly ApiKeyState[]): ApiKeyStateName[] {
  const names: ApiKeyStateName[] = [];
  for (const state of states) {
    if (state === ApiKeyState.ACTIVE) names.push("ACTIVE");
    else if (state === ApiKeyState.EXPIRED) names.push("EXPIRED");
    else if (state === ApiKeyState.REVOKED) names.push("REVOKED");
  }
  return names;
}

/** ApiKeyHandler serves cove.iam.v1.ApiKeyService over ApiKeyManager. */
export class ApiKeyHandler implements ServiceImpl<typeof ApiKeyService> {
  constructor(private readonly apiKeys: ApiKeyManager) {}

  async createApiKey(req: CreateApiKeyRequest, ctx: HandlerContext) {
    const { key, secret } = await this.apiKeys.create(ctx.values.get(kPrincipal), {
      name: req.name,
      scopes: req.scopes,
      expireTime: req.expireTime ? timestampDate(req.expireTime) : undefined,
      organizationId: req.organizationId,
    });
    return { apiKey: toApiKeyProto(key), secret };
  }

  async listApiKeys(req: ListApiKeysRequest, ctx: HandlerContext) {
    const page = await this.apiKeys.list(ctx.values.get(kPrincipal), {
      pageSize: req.pageSize,
      pageToken: req.pageToken,
      states: stateNames(req.states),
    });
    const now = new Date();
    return {
      apiKeys: page.keys.map((key) => toApiKeyProto(key, now)),
      nextPageToken: page.nextPageToken,
    };
  }

  async getApiKey(req: GetApiKeyRequest, ctx: HandlerContext) {
    const key = await this.apiKeys.get(ctx.values.get(kPrincipal), req.apiKeyId);
    return { apiKey: toApiKeyProto(key) };
  }

  async revokeApiKey(req: RevokeApiKeyRequest, ctx: HandlerContext) {
    const key = await this.apiKeys.revoke(ctx.values.get(kPrincipal), req.apiKeyId);
    return { apiKey: toApiKeyProto(key) };
  }
}
