// `cove org get|list|create|rename|delete|usage` and `cove org member list|add|set-role|remove`:
// OrganizationService over the API server. Organization ids default to the API key's own.
import { toJson } from "@bufbuild/protobuf";
import {
  type Member,
  MemberSchema,
  type Organization,
  OrganizationSchema,
  QuotaSchema,
  Role,
  UsageSchema,
} from "@cove/gen-ts/cove/iam/v1/organization_pb.js";
import type { ParsedArgs } from "../args.js";
import { api } from "../clients.js";
import type { Context } from "../context.js";
import { UsageError } from "../errors.js";
import { boolFlag, listFlag, stringFlag } from "../flags.js";
import { age, enumName, isoTime, printFields, printJson, printTable } from "../output.js";
import { apiKeyJson } from "./key.js";

const CALL = { timeoutMs: 30_000 };

/** roleOf reads a role word (owner, admin, member, viewer). */
export function roleOf(word: string | undefined): Role {
  const value = Role[(word ?? "").toUpperCase() as keyof typeof Role];
  if (value === undefined || value === Role.UNSPECIFIED) {
    throw new UsageError(
      `the role must be owner, admin, member or viewer, not ${JSON.stringify(word ?? "")}`,
    );
  }
  return value;
}

/** roleName is a Role in lower case ("" when unspecified). */
function roleName(role: Role): string {
  return role === Role.UNSPECIFIED ? "" : enumName(Role, role);
}

/** organizationId is --org, else the API key's own organization (asked once). */
async function organizationId(parsed: ParsedArgs, ctx: Context): Promise<string> {
  const given = stringFlag(parsed, "org");
  if (given) return given;
  const { organization } = await api(ctx).organizations.getOrganization({}, CALL);
  return organization?.organizationId ?? "";
}

function organizationJson(o: Organization | undefined): unknown {
  return o ? toJson(OrganizationSchema, o) : null;
}

function memberJson(m: Member | undefined): unknown {
  return m ? toJson(MemberSchema, m) : null;
}

function printMember(ctx: Context, parsed: ParsedArgs, m: Member | undefined): void {
  if (boolFlag(parsed, "json") || !m) {
    printJson(ctx.io, memberJson(m));
    return;
  }
  printFields(ctx.io, [
    ["user", m.userId],
    ["email", m.email],
    ["name", m.displayName],
    ["role", roleName(m.role)],
    ["joined", isoTime(m.createTime)],
  ]);
}

/** getOrg is `cove org get [ID]`. */
export async function getOrg(parsed: ParsedArgs, ctx: Context): Promise<number> {
  const [id = ""] = parsed.args;
  const res = await api(ctx).organizations.getOrganization({ organizationId: id }, CALL);
  if (boolFlag(parsed, "json")) {
    printJson(ctx.io, { organization: organizationJson(res.organization), role: Role[res.role] });
    return 0;
  }
  const o = res.organization;
  printFields(ctx.io, [
    ["id", o?.organizationId ?? ""],
    ["name", o?.name ?? ""],
    ["your role", roleName(res.role)],
    ["max sandboxes", String(o?.quota?.maxSandboxes ?? 0)],
    ["created", isoTime(o?.createTime)],
  ]);
  return 0;
}

/** listOrgs is `cove org list`. */
export async function listOrgs(parsed: ParsedArgs, ctx: Context): Promise<number> {
  const all: Organization[] = [];
  let pageToken = "";
  do {
    const page = await api(ctx).organizations.listOrganizations({ pageSize: 500, pageToken }, CALL);
    all.push(...page.organizations);
    pageToken = page.nextPageToken;
  } while (pageToken);
  if (boolFlag(parsed, "json")) {
    printJson(ctx.io, all.map(organizationJson));
    return 0;
  }
  printTable(
    ctx.io,
    ["ID", "NAME", "AGE"],
    all.map((o) => [o.organizationId, o.name, age(o.createTime)]),
  );
  return 0;
}

/** createOrg is `cove org create NAME`: prints the new organization's id. */
export async function createOrg(parsed: ParsedArgs, ctx: Context): Promise<number> {
  const [name = ""] = parsed.args;
  const { organization } = await api(ctx).organizations.createOrganization({ name }, CALL);
  if (boolFlag(parsed, "json")) printJson(ctx.io, organizationJson(organization));
  else {
    ctx.io.stdout.write(`${organization?.organizationId ?? ""}\n`);
    ctx.io.stderr.write(
      `you own it; \`cove key create NAME --scope '*' --org ${organization?.organizationId}\` makes a key for it\n`,
    );
  }
  return 0;
}

/** renameOrg is `cove org rename ID NAME`. */
export async function renameOrg(parsed: ParsedArgs, ctx: Context): Promise<number> {
  const [id = "", name = ""] = parsed.args;
  const { organization } = await api(ctx).organizations.updateOrganization(
    { organizationId: id, name },
    CALL,
  );
  if (boolFlag(parsed, "json")) printJson(ctx.io, organizationJson(organization));
  else
    ctx.io.stdout.write(`${organization?.organizationId ?? id} is now ${JSON.stringify(name)}\n`);
  return 0;
}

/** deleteOrg is `cove org delete ID`. */
export async function deleteOrg(parsed: ParsedArgs, ctx: Context): Promise<number> {
  const [id = ""] = parsed.args;
  await api(ctx).organizations.deleteOrganization({ organizationId: id }, CALL);
  if (boolFlag(parsed, "json")) printJson(ctx.io, { organizationId: id, deleted: true });
  else ctx.io.stdout.write(`${id} deleted\n`);
  return 0;
}

/** orgUsage is `cove org usage [ID]`: the quota next to what is used. */
export async function orgUsage(parsed: ParsedArgs, ctx: Context): Promise<number> {
  const [id = ""] = parsed.args;
  const { quota, usage } = await api(ctx).organizations.getUsage({ organizationId: id }, CALL);
  if (boolFlag(parsed, "json")) {
    printJson(ctx.io, {
      quota: quota ? toJson(QuotaSchema, quota) : null,
      usage: usage ? toJson(UsageSchema, usage) : null,
    });
    return 0;
  }
  const limit = (n: number | undefined) => (n ? String(n) : "no limit");
  printTable(
    ctx.io,
    ["WHAT", "USED", "LIMIT"],
    [
      ["sandboxes", String(usage?.sandboxes ?? 0), limit(quota?.maxSandboxes)],
      [
        "started sandboxes",
        String(usage?.startedSandboxes ?? 0),
        limit(quota?.maxStartedSandboxes),
      ],
      ["cpu (millicores)", String(usage?.cpuMillicores ?? 0), limit(quota?.totalCpuMillicores)],
      ["memory (MiB)", String(usage?.memoryMib ?? 0), limit(quota?.totalMemoryMib)],
      ["disk (MiB)", String(usage?.diskMib ?? 0), limit(quota?.totalDiskMib)],
      ["api keys", String(usage?.apiKeys ?? 0), limit(quota?.maxApiKeys)],
    ],
  );
  return 0;
}

/** listMembers is `cove org member list`. */
export async function listMembers(parsed: ParsedArgs, ctx: Context): Promise<number> {
  const org = await organizationId(parsed, ctx);
  const all: Member[] = [];
  let pageToken = "";
  do {
    const page = await api(ctx).organizations.listMembers(
      { organizationId: org, pageSize: 500, pageToken },
      CALL,
    );
    all.push(...page.members);
    pageToken = page.nextPageToken;
  } while (pageToken);
  if (boolFlag(parsed, "json")) {
    printJson(ctx.io, all.map(memberJson));
    return 0;
  }
  printTable(
    ctx.io,
    ["USER", "EMAIL", "ROLE", "NAME", "JOINED"],
    all.map((m) => [m.userId, m.email, roleName(m.role), m.displayName, age(m.createTime)]),
  );
  return 0;
}

/**
 * addMember is `cove org member add EMAIL --role ROLE`: CreateMember, which makes the user
 * when there is none; with --key-scope it also issues the member's first key and prints its
 * secret (shown only this once).
 */
export async function addMember(parsed: ParsedArgs, ctx: Context): Promise<number> {
  const [email = ""] = parsed.args;
  const role = roleOf(stringFlag(parsed, "role"));
  const org = await organizationId(parsed, ctx);
  const res = await api(ctx).organizations.createMember(
    {
      organizationId: org,
      email,
      role,
      displayName: stringFlag(parsed, "name") ?? "",
      apiKeyScopes: listFlag(parsed, "key-scope"),
      apiKeyName: stringFlag(parsed, "key-name") ?? "",
    },
    CALL,
  );
  if (boolFlag(parsed, "json")) {
    printJson(ctx.io, {
      member: memberJson(res.member),
      userCreated: res.userCreated,
      apiKey: res.apiKey ? apiKeyJson(res.apiKey) : null,
      secret: res.apiKeySecret || null,
    });
    return 0;
  }
  printMember(ctx, parsed, res.member);
  ctx.io.stdout.write(`user created  ${res.userCreated ? "yes" : "no (it existed)"}\n`);
  if (res.apiKey) {
    ctx.io.stdout.write(
      `api key       ${res.apiKey.apiKeyId}\nsecret        ${res.apiKeySecret}\n`,
    );
    ctx.io.stderr.write("the secret is shown only now: hand it to the member safely\n");
  }
  return 0;
}

/** setMemberRole is `cove org member set-role USER_ID ROLE`. */
export async function setMemberRole(parsed: ParsedArgs, ctx: Context): Promise<number> {
  const [userId = "", word] = parsed.args;
  const role = roleOf(word);
  const org = await organizationId(parsed, ctx);
  const { member } = await api(ctx).organizations.updateMember(
    { organizationId: org, userId, role },
    CALL,
  );
  printMember(ctx, parsed, member);
  return 0;
}

/** removeMember is `cove org member remove USER_ID`: their keys here are revoked too. */
export async function removeMember(parsed: ParsedArgs, ctx: Context): Promise<number> {
  const [userId = ""] = parsed.args;
  const org = await organizationId(parsed, ctx);
  await api(ctx).organizations.removeMember({ organizationId: org, userId }, CALL);
  if (boolFlag(parsed, "json")) printJson(ctx.io, { organizationId: org, userId, removed: true });
  else ctx.io.stdout.write(`${userId} removed from ${org}; their API keys there are revoked\n`);
  return 0;
}
