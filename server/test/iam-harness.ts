import type { DescService } from "@bufbuild/protobuf";
import { type Client, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { createLogger, type GrpcServer, type Logger, startGrpcServer } from "@cove/common";
import { ApiKeyService } from "@cove/gen-ts/cove/iam/v1/api_key_service_pb.js";
import { AuditService } from "@cove/gen-ts/cove/iam/v1/audit_service_pb.js";
import { OrganizationService } from "@cove/gen-ts/cove/iam/v1/organization_service_pb.js";
import { ErrorInfoSchema } from "@cove/gen-ts/google/rpc/error_details_pb.js";
import type { Knex } from "knex";
import { ApiKeyManager, issueApiKey, ServiceCredentials } from "../src/domain/iam/api-keys.js";
import { AuditLog } from "../src/domain/iam/audit.js";
import { OrganizationManager } from "../src/domain/iam/organizations.js";
import type { MethodRule, RoleName } from "../src/domain/iam/scopes.js";
import { ensureUser } from "../src/domain/iam/users.js";
import { ApiKeyHandler } from "../src/handlers/api-key-handler.js";
import { AuditHandler } from "../src/handlers/audit-handler.js";
import { OrganizationHandler } from "../src/handlers/organization-handler.js";
import { newId } from "../src/ids.js";
import { createApiInterceptors, type RateLimitConfig } from "../src/interceptors/index.js";
import { createMemorySharedState } from "../src/shared/memory-state.js";
import type { SharedState } from "../src/shared/shared-state.js";

/** The IAM services wired as the API server wires them, on a real server on port 0. */
export interface IamServer {
  server: GrpcServer;
  apiKeys: ApiKeyManager;
  organizations: OrganizationManager;
  audit: AuditLog;
  shared: SharedState;
  close(): Promise<void>;
}

/** startIamServer starts the IAM services behind createApiInterceptors. */
export async function startIamServer(
  db: Knex,
  options: {
    limits?: Partial<RateLimitConfig>;
    rules?: Readonly<Record<string, MethodRule>>;
    trustClientIpHeader?: boolean;
    proxyTokenHash?: string;
    runnerRegistrationTokenHash?: string;
    extra?: {
      services: DescService[];
      routes: (router: import("@connectrpc/connect").ConnectRouter) => void;
    };
    logger?: Logger;
    shared?: SharedState;
  } = {},
): Promise<IamServer> {
  const logger = options.logger ?? createLogger({ level: "silent" });
  const shared = options.shared ?? createMemorySharedState();
  const apiKeys = new ApiKeyManager({ db, events: shared.events });
  await apiKeys.start();
  const organizations = new OrganizationManager({ db, apiKeys });
  const audit = new AuditLog({ db });
  const credentials = new ServiceCredentials({
    db,
    proxyTokenHash: options.proxyTokenHash,
    runnerRegistrationTokenHash: options.runnerRegistrationTokenHash,
  });
  const server = await startGrpcServer(
    {
      services: [
        OrganizationService,
        ApiKeyService,
        AuditService,
        ...(options.extra?.services ?? []),
      ],
      routes: (router) => {
        router.service(OrganizationService, new OrganizationHandler(organizations));
        router.service(ApiKeyService, new ApiKeyHandler(apiKeys));
        router.service(AuditService, new AuditHandler(audit));
        options.extra?.routes(router);
      },
      interceptors: createApiInterceptors({
        logger,
        shared,
        apiKeys,
        credentials,
        audit,
        limits: options.limits,
        rules: options.rules,
        trustClientIpHeader: options.trustClientIpHeader,
      }),
    },
    { port: 0 },
  );
  return {
    server,
    apiKeys,
    organizations,
    audit,
    shared,
    async close() {
      await server.close();
      await apiKeys.close();
      await shared.close();
    },
  };
}

/** withHeaders is a client interceptor adding headers (authorization, x-cove-client-ip …). */
export function withHeaders(headers: Record<string, string>): Interceptor {
  return (next) => (req) => {
    for (const [name, value] of Object.entries(headers)) req.header.set(name, value);
    return next(req);
  };
}

/** IAM clients of one caller. */
export interface IamClients {
  orgs: Client<typeof OrganizationService>;
  keys: Client<typeof ApiKeyService>;
  audit: Client<typeof AuditService>;
  client<S extends DescService>(service: S): Client<S>;
}

/** clientsFor makes Connect (HTTP/2) clients that send `secret` as a bearer token, if any. */
export function clientsFor(
  baseUrl: string,
  secret: string | undefined,
  headers: Record<string, string> = {},
): IamClients {
  const all = { ...headers };
  if (secret !== undefined) all.authorization = `Bearer ${secret}`;
  const transport = createConnectTransport({
    baseUrl,
    httpVersion: "2",
    interceptors: [withHeaders(all)],
  });
  return {
    orgs: createClient(OrganizationService, transport),
    keys: createClient(ApiKeyService, transport),
    audit: createClient(AuditService, transport),
    client: (service) => createClient(service, transport),
  };
}

/** A seeded organization with one user and one key. */
export interface Seeded {
  orgId: string;
  userId: string;
  email: string;
  keyId: string;
  secret: string;
}

/** seedOrg creates an organization, a user with `role` in it, and a key with `scopes`. */
export async function seedOrg(
  db: Knex,
  options: { role?: RoleName; scopes?: string[]; email?: string; orgId?: string } = {},
): Promise<Seeded> {
  const orgId = options.orgId ?? newId("org");
  if (!options.orgId) await db("organizations").insert({ id: orgId, name: `org ${orgId}` });
  const email = options.email ?? `${newId("u")}@example.test`;
  const user = await ensureUser(db, email);
  await db("members").insert({
    organization_id: orgId,
    user_id: user.id,
    role: options.role ?? "OWNER",
  });
  const { key, secret } = await issueApiKey(db, {
    organizationId: orgId,
    userId: user.id,
    name: "test key",
    scopes: options.scopes ?? ["*"],
  });
  return { orgId, userId: user.id, email: user.email, keyId: key.id, secret };
}

/** expectError awaits a call that must fail with `code` and, if given, ErrorInfo `reason`. */
export async function expectError(
  call: Promise<unknown>,
  code: number,
  reason?: string,
): Promise<ConnectError> {
  let err: ConnectError | undefined;
  try {
    await call;
  } catch (e) {
    err = ConnectError.from(e);
  }
  if (!err) throw new Error(`expected code ${code}${reason ? ` (${reason})` : ""}, got success`);
  const info = err.findDetails(ErrorInfoSchema)[0];
  expect({ code: err.code, reason: reason === undefined ? undefined : info?.reason }).toEqual({
    code,
    reason,
  });
  return err;
}

/** errorInfo returns the ErrorInfo of a ConnectError. */
export function errorInfo(err: ConnectError) {
  return err.findDetails(ErrorInfoSchema)[0];
}
