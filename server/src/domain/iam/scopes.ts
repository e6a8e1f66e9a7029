/**
 * Who may call what: API key scopes, what each role allows, and the one table that maps every
 * procedure of the contract to the credential and scope it needs. The auth interceptor enforces
 * the table; a procedure missing from it is denied (fail closed). Tests generate tenancy
 * matrices from it, and a test checks that every method of every cove.* service is listed.
 */

/** Scopes an API key may hold, besides "*" and "operator" ("write" does not imply "read"). */
export const GRANTABLE_SCOPES = [
  "sandboxes:read",
  "sandboxes:write",
  "snapshots:read",
  "snapshots:write",
  "volumes:read",
  "volumes:write",
  "organization:read",
  "organization:write",
  "api_keys:read",
  "api_keys:write",
  "audit:read",
] as const;

/** One of GRANTABLE_SCOPES. */
export type GrantableScope = (typeof GRANTABLE_SCOPES)[number];

/** "*": every grantable scope, never "operator". */
export const ALL_SCOPES = "*";

/** "operator": platform administration (runners, quotas); only server configuration grants it. */
export const OPERATOR_SCOPE = "operator";

/** A scope a method can require. */
export type Scope = GrantableScope | typeof OPERATOR_SCOPE;

/** A member's role, as stored in members.role (cove.iam.v1.Role names without prefix). */
export type RoleName = "OWNER" | "ADMIN" | "MEMBER" | "VIEWER";

/** Every role name, most powerful first. */
export const ROLE_NAMES: readonly RoleName[] = ["OWNER", "ADMIN", "MEMBER", "VIEWER"];

/** isKnownScope says whether a string is a grantable scope, "*" or "operator". */
export function isKnownScope(scope: string): boolean {
  return (
    scope === ALL_SCOPES ||
    scope === OPERATOR_SCOPE ||
    (GRANTABLE_SCOPES as readonly string[]).includes(scope)
  );
}

/** hasScope says whether `granted` covers `needed` ("*" covers every grantable scope). */
export function hasScope(granted: readonly string[], needed: string): boolean {
  if (granted.includes(needed)) return true;
  return granted.includes(ALL_SCOPES) && (GRANTABLE_SCOPES as readonly string[]).includes(needed);
}

/**
 * What each role allows, as scopes. An API key never does more than its creator's current role
 * allows: its effective scopes are its own scopes cut down to these. The domain checks finer
 * rules on top (e.g. a MEMBER manages only their own keys; any member may remove themself,
 * which is why VIEWER keeps "organization:write").
 */
const ROLE_SCOPES: Record<RoleName, readonly GrantableScope[]> = {
  OWNER: GRANTABLE_SCOPES,
  ADMIN: GRANTABLE_SCOPES,
  MEMBER: GRANTABLE_SCOPES.filter((s) => s !== "audit:read"),
  VIEWER: [
    "sandboxes:read",
    "snapshots:read",
    "volumes:read",
    "organization:read",
    "organization:write",
    "api_keys:read",
  ],
};

/** roleAllows says whether a role permits a scope ("*" only when it permits all of them). */
export function roleAllows(role: RoleName, scope: string): boolean {
  const allowed = ROLE_SCOPES[role];
  if (scope === ALL_SCOPES) return allowed.length === GRANTABLE_SCOPES.length;
  return (allowed as readonly string[]).includes(scope);
}

/**
 * effectiveScopes is what a key may do now: its scopes bounded by its user's role (no role —
 * not a member any more — leaves nothing). "operator" comes from server configuration, not
 * from membership, and is kept as is.
 */
export function effectiveScopes(
  keyScopes: readonly string[],
  role: RoleName | undefined,
): string[] {
  const out: string[] = [];
  if (keyScopes.includes(OPERATOR_SCOPE)) out.push(OPERATOR_SCOPE);
  if (!role) return out;
  if (keyScopes.includes(ALL_SCOPES) && roleAllows(role, ALL_SCOPES)) {
    out.push(ALL_SCOPES);
    return out;
  }
  for (const scope of GRANTABLE_SCOPES) {
    if (hasScope(keyScopes, scope) && roleAllows(role, scope)) out.push(scope);
  }
  return out;
}

/** The kind of object an audited call changes (AuditEvent.resource_type). */
export type ResourceType =
  | "sandbox"
  | "snapshot"
  | "volume"
  | "api_key"
  | "member"
  | "organization"
  | "runner";

/** The request/response field (camelCase) that holds the id of each resource type. */
export const RESOURCE_ID_FIELDS: Record<ResourceType, string> = {
  sandbox: "sandboxId",
  snapshot: "snapshotId",
  volume: "volumeId",
  api_key: "apiKeyId",
  member: "userId",
  organization: "organizationId",
  runner: "runnerId",
};

/** How one procedure is authenticated and authorized. */
export type MethodRule =
  /** Anyone, no credential (health, reflection). */
  | { readonly auth: "public" }
  /**
   * An organization's API key holding `scope` (every such method names one; there is no
   * "any valid key"). `mutating` calls are audited and rate-limited as writes.
   */
  | {
      readonly auth: "apiKey";
      readonly scope: Scope;
      readonly mutating: boolean;
      readonly resourceType: ResourceType;
    }
  /** A runner token, on RunnerService.Connect. */
  | { readonly auth: "runner" }
  /** The proxy's service token, on EdgeService. */
  | { readonly auth: "proxy" }
  /**
   * A toolbox call: served by the daemon inside a sandbox and reached through the proxy,
   * which authorizes the end user's credential with EdgeService.ResolveSandbox (API keys need
   * `scope`). The API server never serves these and denies them if asked.
   */
  | { readonly auth: "toolbox"; readonly scope: Scope };

const read = (scope: Scope, resourceType: ResourceType): MethodRule => ({
  auth: "apiKey",
  scope,
  mutating: false,
  resourceType,
});
const write = (scope: Scope, resourceType: ResourceType): MethodRule => ({
  auth: "apiKey",
  scope,
  mutating: true,
  resourceType,
});

function service(name: string, methods: Record<string, MethodRule>): Record<string, MethodRule> {
  const out: Record<string, MethodRule> = {};
  for (const [method, rule] of Object.entries(methods)) out[`${name}/${method}`] = rule;
  return out;
}

/**
 * The scope an API key needs to reach code a sandbox runs: toolbox calls and previews (the
 * edge resolver checks it for previews; toolbox rules below carry it).
 */
export const TOOLBOX_SCOPE: Scope = "sandboxes:write";

function toolbox(name: string, methods: readonly string[]): Record<string, MethodRule> {
  const rule: MethodRule = { auth: "toolbox", scope: TOOLBOX_SCOPE };
  return service(name, Object.fromEntries(methods.map((m) => [m, rule])));
}

const PUBLIC: MethodRule = { auth: "public" };

/**
 * METHOD_RULES maps every procedure ("<package>.<Service>/<Method>") to its rule. The one table
 * of access: add each new RPC here, or it is denied.
 */
export const METHOD_RULES: Readonly<Record<string, MethodRule>> = Object.freeze({
  ...service("grpc.health.v1.Health", { Check: PUBLIC, Watch: PUBLIC, List: PUBLIC }),
  ...service("grpc.reflection.v1.ServerReflection", { ServerReflectionInfo: PUBLIC }),
  ...service("grpc.reflection.v1alpha.ServerReflection", { ServerReflectionInfo: PUBLIC }),

  ...service("cove.sandbox.v1.SandboxService", {
    CreateSandbox: write("sandboxes:write", "sandbox"),
    GetSandbox: read("sandboxes:read", "sandbox"),
    ListSandboxes: read("sandboxes:read", "sandbox"),
    StartSandbox: write("sandboxes:write", "sandbox"),
    StopSandbox: write("sandboxes:write", "sandbox"),
    ArchiveSandbox: write("sandboxes:write", "sandbox"),
    DeleteSandbox: write("sandboxes:write", "sandbox"),
    RecoverSandbox: write("sandboxes:write", "sandbox"),
    UpdateSandbox: write("sandboxes:write", "sandbox"),
    WatchSandbox: read("sandboxes:read", "sandbox"),
    CreatePreviewUrl: write("sandboxes:write", "sandbox"),
    CreateSshAccess: write("sandboxes:write", "sandbox"),
    RevokeSshAccess: write("sandboxes:write", "sandbox"),
    CreateSandboxToken: write("sandboxes:write", "sandbox"),
  }),

  ...service("cove.snapshot.v1.SnapshotService", {
    CreateSnapshot: write("snapshots:write", "snapshot"),
    GetSnapshot: read("snapshots:read", "snapshot"),
    ListSnapshots: read("snapshots:read", "snapshot"),
    DeleteSnapshot: write("snapshots:write", "snapshot"),
    StreamBuildLogs: read("snapshots:read", "snapshot"),
  }),

  ...service("cove.volume.v1.VolumeService", {
    CreateVolume: write("volumes:write", "volume"),
    GetVolume: read("volumes:read", "volume"),
    ListVolumes: read("volumes:read", "volume"),
    DeleteVolume: write("volumes:write", "volume"),
  }),

  ...service("cove.iam.v1.OrganizationService", {
    CreateOrganization: write("organization:write", "organization"),
    GetOrganization: read("organization:read", "organization"),
    ListOrganizations: read("organization:read", "organization"),
    UpdateOrganization: write("organization:write", "organization"),
    DeleteOrganization: write("organization:write", "organization"),
    ListMembers: read("organization:read", "member"),
    AddMember: write("organization:write", "member"),
    CreateMember: write("organization:write", "member"),
    UpdateMember: write("organization:write", "member"),
    RemoveMember: write("organization:write", "member"),
    GetUsage: read("organization:read", "organization"),
    UpdateQuota: write(OPERATOR_SCOPE, "organization"),
  }),

  ...service("cove.iam.v1.ApiKeyService", {
    CreateApiKey: write("api_keys:write", "api_key"),
    ListApiKeys: read("api_keys:read", "api_key"),
    GetApiKey: read("api_keys:read", "api_key"),
    RevokeApiKey: write("api_keys:write", "api_key"),
  }),

  ...service("cove.iam.v1.AuditService", {
    ListAuditEvents: read("audit:read", "organization"),
  }),

  ...service("cove.runner.v1.RunnerAdminService", {
    CreateRunner: write(OPERATOR_SCOPE, "runner"),
    GetRunner: read(OPERATOR_SCOPE, "runner"),
    ListRunners: read(OPERATOR_SCOPE, "runner"),
    DrainRunner: write(OPERATOR_SCOPE, "runner"),
    UndrainRunner: write(OPERATOR_SCOPE, "runner"),
    DeleteRunner: write(OPERATOR_SCOPE, "runner"),
  }),

  ...service("cove.runner.v1.RunnerService", { Connect: { auth: "runner" } }),

  ...service("cove.edge.v1.EdgeService", {
    ResolveSandbox: { auth: "proxy" },
    WatchRoutes: { auth: "proxy" },
    RecordActivity: { auth: "proxy" },
  }),

  ...toolbox("cove.toolbox.v1.FilesystemService", [
    "Stat",
    "ListDir",
    "MakeDir",
    "Move",
    "Remove",
    "ReadFile",
    "UploadFile",
    "WriteFile",
    "SetPermissions",
    "FindInFiles",
    "SearchFiles",
    "ReplaceInFiles",
    "WatchDir",
  ]),
  ...toolbox("cove.toolbox.v1.GitService", [
    "Clone",
    "Status",
    "ListBranches",
    "CreateBranch",
    "DeleteBranch",
    "Checkout",
    "Add",
    "Commit",
    "Push",
    "Pull",
    "Log",
    "Init",
  ]),
  ...toolbox("cove.toolbox.v1.InterpreterService", [
    "CreateContext",
    "ListContexts",
    "DeleteContext",
    "RestartContext",
    "RunCode",
    "InterruptContext",
  ]),
  ...toolbox("cove.toolbox.v1.LspService", [
    "StartLspServer",
    "StopLspServer",
    "ListLspServers",
    "DidOpen",
    "DidChange",
    "DidClose",
    "Completions",
    "Hover",
    "Definition",
    "Diagnostics",
    "DocumentSymbols",
    "WorkspaceSymbols",
    "SendLspMessage",
    "WatchLspMessages",
  ]),
  ...toolbox("cove.toolbox.v1.PortService", [
    "ListPorts",
    "WaitForPort",
    "Tunnel",
    "OpenTunnel",
    "SendTunnelData",
    "CloseTunnel",
  ]),
  ...toolbox("cove.toolbox.v1.ProcessService", [
    "Exec",
    "Start",
    "Connect",
    "SendInput",
    "CloseStdin",
    "SendSignal",
    "ListProcesses",
    "StreamInput",
    "CreateSession",
    "GetSession",
    "ListSessions",
    "DeleteSession",
    "SessionExecute",
    "GetSessionCommand",
    "GetSessionCommandLogs",
    "SendSessionInput",
    "CodeRun",
    "StartCodeRun",
  ]),
  ...toolbox("cove.toolbox.v1.PtyService", [
    "CreatePty",
    "ConnectPty",
    "SendPtyInput",
    "ResizePty",
    "KillPty",
    "ListPtys",
    "StreamPty",
  ]),
});

/** methodRule returns the rule of a procedure, or undefined (which callers must deny). */
export function methodRule(
  procedure: string,
  rules: Readonly<Record<string, MethodRule>> = METHOD_RULES,
): MethodRule | undefined {
  return Object.hasOwn(rules, procedure) ? rules[procedure] : undefined;
}
