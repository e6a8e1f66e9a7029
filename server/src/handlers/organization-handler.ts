import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  type Member,
  MemberSchema,
  type Organization,
  OrganizationSchema,
  type Quota,
  QuotaSchema,
  Role,
  UsageSchema,
} from "@cove/gen-ts/cove/iam/v1/organization_pb.js";
import type {
  AddMemberRequest,
  CreateMemberRequest,
  CreateOrganizationRequest,
  DeleteOrganizationRequest,
  GetOrganizationRequest,
  GetUsageRequest,
  ListMembersRequest,
  ListOrganizationsRequest,
  OrganizationService,
  RemoveMemberRequest,
  UpdateMemberRequest,
  UpdateOrganizationRequest,
  UpdateQuotaRequest,
} from "@cove/gen-ts/cove/iam/v1/organization_service_pb.js";
import type {
  MemberRecord,
  OrganizationManager,
  OrganizationRecord,
  QuotaValues,
  UsageValues,
} from "../domain/iam/organizations.js";
import type { RoleName } from "../domain/iam/scopes.js";
import { kPrincipal } from "../principal.js";
import { toApiKeyProto } from "./api-key-handler.js";

/** toOrganizationProto builds the Organization message of a domain organization. */
export function toOrganizationProto(org: OrganizationRecord): Organization {
  return create(OrganizationSchema, {
    organizationId: org.id,
    name: org.name,
    quota: create(QuotaSchema, org.quota),
    createTime: timestampFromDate(org.createTime),
    updateTime: timestampFromDate(org.updateTime),
  });
}

/** toMemberProto builds the Member message of a domain membership. */
export function toMemberProto(member: MemberRecord): Member {
  return create(MemberSchema, {
    organizationId: member.organizationId,
    userId: member.userId,
    email: member.email,
    displayName: member.displayName,
    role: Role[member.role],
    createTime: timestampFromDate(member.createTime),
  });
}

function toUsageProto(usage: UsageValues) {
  const { observeTime, ...counts } = usage;
  return create(UsageSchema, { ...counts, observeTime: timestampFromDate(observeTime) });
}

/** The role name of a request's Role (UNSPECIFIED and unknown values are refused by the domain). */
function roleName(role: Role): RoleName {
  return (Role[role] ?? "UNSPECIFIED") as RoleName;
}

function toQuotaValues(quota: Quota | undefined): QuotaValues | undefined {
  if (!quota) return undefined;
  return {
    maxSandboxes: quota.maxSandboxes,
    maxStartedSandboxes: quota.maxStartedSandboxes,
    totalCpuMillicores: quota.totalCpuMillicores,
    totalMemoryMib: quota.totalMemoryMib,
    totalDiskMib: quota.totalDiskMib,
    maxSandboxCpuMillicores: quota.maxSandboxCpuMillicores,
    maxSandboxMemoryMib: quota.maxSandboxMemoryMib,
    maxSandboxDiskMib: quota.maxSandboxDiskMib,
    maxSnapshots: quota.maxSnapshots,
    maxVolumes: quota.maxVolumes,
    maxApiKeys: quota.maxApiKeys,
    requestsPerMinute: quota.requestsPerMinute,
  };
}

/** OrganizationHandler serves cove.iam.v1.OrganizationService over OrganizationManager. */
export class OrganizationHandler implements ServiceImpl<typeof OrganizationService> {
  constructor(private readonly organizations: OrganizationManager) {}

  async createOrganization(req: CreateOrganizationRequest, ctx: HandlerContext) {
    const org = await this.organizations.create(ctx.values.get(kPrincipal), req.name);
    return { organization: toOrganizationProto(org) };
  }

  async getOrganization(req: GetOrganizationRequest, ctx: HandlerContext) {
    const { organization, role } = await this.organizations.get(
      ctx.values.get(kPrincipal),
      req.organizationId,
    );
    return {
      organization: toOrganizationProto(organization),
      role: role ? Role[role] : Role.UNSPECIFIED,
    };
  }

  async listOrganizations(req: ListOrganizationsRequest, ctx: HandlerContext) {
    const page = await this.organizations.list(ctx.values.get(kPrincipal), req);
    return {
      organizations: page.organizations.map(toOrganizationProto),
      nextPageToken: page.nextPageToken,
    };
  }

  async updateOrganization(req: UpdateOrganizationRequest, ctx: HandlerContext) {
    const org = await this.organizations.update(ctx.values.get(kPrincipal), req.organizationId, {
      name: req.name,
    });
    return { organization: toOrganizationProto(org) };
  }

  async deleteOrganization(req: DeleteOrganizationRequest, ctx: HandlerContext) {
    await this.organizations.delete(ctx.values.get(kPrincipal), req.organizationId);
    return {};
  }

  async listMembers(req: ListMembersRequest, ctx: HandlerContext) {
    const page = await this.organizations.listMembers(
      ctx.values.get(kPrincipal),
      req.organizationId,
      req,
    );
    return { members: page.members.map(toMemberProto), nextPageToken: page.nextPageToken };
  }

  async addMember(req: AddMemberRequest, ctx: HandlerContext) {
    const member = await this.organizations.addMember(
      ctx.values.get(kPrincipal),
      req.organizationId,
      { email: req.email, role: roleName(req.role) },
    );
    return { member: toMemberProto(member) };
  }

  async createMember(req: CreateMemberRequest, ctx: HandlerContext) {
    const created = await this.organizations.createMember(
      ctx.values.get(kPrincipal),
      req.organizationId,
      {
        email: req.email,
        displayName: req.displayName,
        role: roleName(req.role),
        apiKeyScopes: req.apiKeyScopes,
        apiKeyName: req.apiKeyName,
      },
    );
    return {
      member: toMemberProto(created.member),
      userCreated: created.userCreated,
      apiKey: created.apiKey ? toApiKeyProto(created.apiKey.key) : undefined,
      apiKeySecret: created.apiKey?.secret ?? "",
    };
  }

  async updateMember(req: UpdateMemberRequest, ctx: HandlerContext) {
    const member = await this.organizations.updateMember(
      ctx.values.get(kPrincipal),
      req.organizationId,
      req.userId,
      roleName(req.role),
    );
    return { member: toMemberProto(member) };
  }

  async removeMember(req: RemoveMemberRequest, ctx: HandlerContext) {
    await this.organizations.removeMember(
      ctx.values.get(kPrincipal),
      req.organizationId,
      req.userId,
    );
    return {};
  }

  async getUsage(req: GetUsageRequest, ctx: HandlerContext) {
    const { quota, usage } = await this.organizations.usage(
      ctx.values.get(kPrincipal),
      req.organizationId,
    );
    return { quota: create(QuotaSchema, quota), usage: toUsageProto(usage) };
  }

  async updateQuota(req: UpdateQuotaRequest, ctx: HandlerContext) {
    const org = await this.organizations.updateQuota(
      ctx.values.get(kPrincipal),
      req.organizationId,
      toQuotaValues(req.quota),
    );
    return { organization: toOrganizationProto(org) };
  }
}
