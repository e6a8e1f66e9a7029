"""IAM (sync): organizations (members, usage, quotas), API keys and the audit log.

Organization ids default to the calling key's own organization wherever that is allowed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Optional

from cove.iam.v1 import api_key_service_pb2 as keys_pb2
from cove.iam.v1 import api_key_service_pb2_grpc
from cove.iam.v1 import audit_service_pb2 as audit_pb2
from cove.iam.v1 import audit_service_pb2_grpc
from cove.iam.v1 import organization_service_pb2 as orgs_pb2
from cove.iam.v1 import organization_service_pb2_grpc

from ._iam import api_key, api_key_state, audit_event, member, organization, quota, quota_proto, role, timestamp, usage
from .models import ApiKey, AuditEvent, CreatedApiKey, CreatedMember, Member, Organization, Quota, Usage

if TYPE_CHECKING:
    from ._rpc import SyncRpc

#: Page size of every IAM list the SDK reads to the end.
PAGE_SIZE = 500


class Organizations:
    """Organizations, their members, usage and quotas (``cove.organizations``)."""

    def __init__(self, rpc: SyncRpc, channel: Any, metadata: Any) -> None:
        self._rpc = rpc
        self._stub = organization_service_pb2_grpc.OrganizationServiceStub(channel)
        self._metadata = metadata
        self._own_id: Optional[str] = None

    def _unary(self, method: Any, request: Any, *, idempotent: bool) -> Any:
        return self._rpc.unary(method, request, self._metadata, idempotent=idempotent)

    def _id(self, organization_id: Optional[str]) -> str:
        if organization_id:
            return organization_id
        if self._own_id is None:
            self._own_id = (self.get()).id
        return self._own_id

    def get(self, organization_id: Optional[str] = None) -> Organization:
        """An organization (default the key's own), with the caller's role in it."""
        request = orgs_pb2.GetOrganizationRequest(organization_id=organization_id or "")
        res = self._unary(self._stub.GetOrganization, request, idempotent=True)
        return organization(res.organization, res.role)

    def list(self) -> list[Organization]:
        """The organizations the key can see (all pages)."""
        out: list[Organization] = []
        token = ""
        while True:
            request = orgs_pb2.ListOrganizationsRequest(page_size=PAGE_SIZE, page_token=token)
            res = self._unary(self._stub.ListOrganizations, request, idempotent=True)
            out.extend(organization(o) for o in res.organizations)
            token = res.next_page_token
            if not token:
                return out

    def create(self, name: str) -> Organization:
        """Makes an organization with the calling user as its owner."""
        request = orgs_pb2.CreateOrganizationRequest(name=name)
        return organization((self._unary(self._stub.CreateOrganization, request, idempotent=False)).organization)

    def update(self, organization_id: Optional[str] = None, *, name: Optional[str] = None) -> Organization:
        """Renames an organization (admin or owner)."""
        request = orgs_pb2.UpdateOrganizationRequest(organization_id=self._id(organization_id))
        if name is not None:
            request.name = name
        return organization((self._unary(self._stub.UpdateOrganization, request, idempotent=True)).organization)

    def delete(self, organization_id: str) -> None:
        """Deletes an organization that has no sandboxes left (owner)."""
        request = orgs_pb2.DeleteOrganizationRequest(organization_id=organization_id)
        self._unary(self._stub.DeleteOrganization, request, idempotent=False)

    def list_members(self, organization_id: Optional[str] = None) -> list[Member]:
        """An organization's members by email (all pages)."""
        org = self._id(organization_id)
        out: list[Member] = []
        token = ""
        while True:
            request = orgs_pb2.ListMembersRequest(organization_id=org, page_size=PAGE_SIZE, page_token=token)
            res = self._unary(self._stub.ListMembers, request, idempotent=True)
            out.extend(member(m) for m in res.members)
            token = res.next_page_token
            if not token:
                return out

    def add_member(self, email: str, role_name: str, organization_id: Optional[str] = None) -> Member:
        """Adds an existing user by email (admin or owner; owner to add an owner)."""
        request = orgs_pb2.AddMemberRequest(
            organization_id=self._id(organization_id), email=email, role=role(role_name)
        )
        return member((self._unary(self._stub.AddMember, request, idempotent=False)).member)

    def create_member(
        self,
        email: str,
        role_name: str,
        *,
        display_name: Optional[str] = None,
        api_key_scopes: Optional[Iterable[str]] = None,
        api_key_name: Optional[str] = None,
        organization_id: Optional[str] = None,
    ) -> CreatedMember:
        """Adds a member by email, creating the user when there is none.

        With api_key_scopes, also issues the member's first API key in this organization
        (bounded by your key and the member's role); its secret is returned only here.
        """
        request = orgs_pb2.CreateMemberRequest(
            organization_id=self._id(organization_id),
            email=email,
            role=role(role_name),
            display_name=display_name or "",
            api_key_scopes=list(api_key_scopes or []),
            api_key_name=api_key_name or "",
        )
        res = self._unary(self._stub.CreateMember, request, idempotent=False)
        return CreatedMember(
            member=member(res.member),
            user_created=res.user_created,
            api_key=api_key(res.api_key) if res.HasField("api_key") else None,
            secret=res.api_key_secret,
        )

    def update_member(self, user_id: str, role_name: str, organization_id: Optional[str] = None) -> Member:
        """Changes a member's role."""
        request = orgs_pb2.UpdateMemberRequest(
            organization_id=self._id(organization_id), user_id=user_id, role=role(role_name)
        )
        return member((self._unary(self._stub.UpdateMember, request, idempotent=True)).member)

    def remove_member(self, user_id: str, organization_id: Optional[str] = None) -> None:
        """Removes a member; the keys they created in the organization are revoked."""
        request = orgs_pb2.RemoveMemberRequest(organization_id=self._id(organization_id), user_id=user_id)
        self._unary(self._stub.RemoveMember, request, idempotent=False)

    def get_usage(self, organization_id: Optional[str] = None) -> tuple[Quota, Usage]:
        """An organization's quota and what it uses now (default the key's own)."""
        request = orgs_pb2.GetUsageRequest(organization_id=organization_id or "")
        res = self._unary(self._stub.GetUsage, request, idempotent=True)
        return quota(res.quota), usage(res.usage)

    def update_quota(self, organization_id: str, new_quota: Quota) -> Organization:
        """Replaces an organization's whole quota (operator keys only; 0 means no limit)."""
        request = orgs_pb2.UpdateQuotaRequest(organization_id=organization_id, quota=quota_proto(new_quota))
        return organization((self._unary(self._stub.UpdateQuota, request, idempotent=True)).organization)


class ApiKeys:
    """The API keys of the calling key's organization (``cove.api_keys``)."""

    def __init__(self, rpc: SyncRpc, channel: Any, metadata: Any) -> None:
        self._rpc = rpc
        self._stub = api_key_service_pb2_grpc.ApiKeyServiceStub(channel)
        self._metadata = metadata

    def _unary(self, method: Any, request: Any, *, idempotent: bool) -> Any:
        return self._rpc.unary(method, request, self._metadata, idempotent=idempotent)

    def create(
        self,
        name: str,
        scopes: Iterable[str],
        *,
        expires_at: Optional[datetime] = None,
        organization_id: Optional[str] = None,
    ) -> CreatedApiKey:
        """Creates a key acting as the calling user; its secret is returned only here."""
        request = keys_pb2.CreateApiKeyRequest(
            name=name, scopes=list(scopes), organization_id=organization_id or "", expire_time=timestamp(expires_at)
        )
        res = self._unary(self._stub.CreateApiKey, request, idempotent=False)
        return CreatedApiKey(api_key=api_key(res.api_key), secret=res.secret)

    def list(self, states: Optional[Iterable[str]] = None) -> list[ApiKey]:
        """Keys newest first; default only active ones (all pages)."""
        wanted = [api_key_state(s) for s in (states or [])]
        out: list[ApiKey] = []
        token = ""
        while True:
            request = keys_pb2.ListApiKeysRequest(page_size=PAGE_SIZE, page_token=token, states=wanted)
            res = self._unary(self._stub.ListApiKeys, request, idempotent=True)
            out.extend(api_key(k) for k in res.api_keys)
            token = res.next_page_token
            if not token:
                return out

    def get(self, api_key_id: str) -> ApiKey:
        """One key."""
        request = keys_pb2.GetApiKeyRequest(api_key_id=api_key_id)
        return api_key((self._unary(self._stub.GetApiKey, request, idempotent=True)).api_key)

    def revoke(self, api_key_id: str) -> ApiKey:
        """Revokes a key at once (revoking a revoked key succeeds)."""
        request = keys_pb2.RevokeApiKeyRequest(api_key_id=api_key_id)
        return api_key((self._unary(self._stub.RevokeApiKey, request, idempotent=True)).api_key)


class Audit:
    """The organization's audit log (``cove.audit``; admins and owners, scope audit:read)."""

    def __init__(self, rpc: SyncRpc, channel: Any, metadata: Any) -> None:
        self._rpc = rpc
        self._stub = audit_service_pb2_grpc.AuditServiceStub(channel)
        self._metadata = metadata

    def list(
        self,
        *,
        since: Optional[datetime] = None,
        until: Optional[datetime] = None,
        resource_type: Optional[str] = None,
        resource_id: Optional[str] = None,
        user_id: Optional[str] = None,
        method: Optional[str] = None,
        limit: Optional[int] = None,
    ) -> list[AuditEvent]:
        """Matching events, newest first (at most limit; default all)."""
        out: list[AuditEvent] = []
        token = ""
        while limit is None or len(out) < limit:
            request = audit_pb2.ListAuditEventsRequest(
                page_size=PAGE_SIZE if limit is None else min(PAGE_SIZE, limit - len(out)),
                page_token=token,
                start_time=timestamp(since),
                end_time=timestamp(until),
                resource_type=resource_type or "",
                resource_id=resource_id or "",
                user_id=user_id or "",
                method=method or "",
            )
            res = self._rpc.unary(self._stub.ListAuditEvents, request, self._metadata)
            out.extend(audit_event(e) for e in res.audit_events)
            token = res.next_page_token
            if not token:
                break
        return out if limit is None else out[:limit]
