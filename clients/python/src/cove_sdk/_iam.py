"""Request builders and converters of the IAM services, shared by the sync and asyncio clients."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from cove.iam.v1 import api_key_pb2, audit_event_pb2, organization_pb2
from google.protobuf import timestamp_pb2

from . import _convert as cv
from .errors import CoveValidationError
from .models import ApiKey, AuditEvent, Member, Organization, Quota, Usage

#: Roles by name, as the SDK spells them.
ROLES = ("owner", "admin", "member", "viewer")
#: API key states by name.
API_KEY_STATES = ("active", "expired", "revoked")


def role(name: str) -> int:
    """Maps "admin" (any case) to the Role enum; CoveValidationError for anything else."""
    if not isinstance(name, str) or name.lower() not in ROLES:
        raise CoveValidationError(f"unknown role {name!r}: use one of {', '.join(ROLES)}")
    return organization_pb2.Role.Value(f"ROLE_{name.upper()}")


def role_name(value: int) -> Optional[str]:
    """Maps the Role enum to "owner", ...; None for ROLE_UNSPECIFIED."""
    if value == organization_pb2.ROLE_UNSPECIFIED:
        return None
    return organization_pb2.Role.Name(value).removeprefix("ROLE_").lower()


def api_key_state(name: str) -> int:
    """Maps "active" / "expired" / "revoked" to the ApiKeyState enum."""
    if not isinstance(name, str) or name.lower() not in API_KEY_STATES:
        raise CoveValidationError(f"unknown API key state {name!r}: use one of {', '.join(API_KEY_STATES)}")
    return api_key_pb2.ApiKeyState.Value(f"API_KEY_STATE_{name.upper()}")


def timestamp(when: Optional[datetime]) -> Optional[timestamp_pb2.Timestamp]:
    """A Timestamp for an aware (or UTC naive) datetime, or None."""
    if when is None:
        return None
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(when)
    return out


def quota(q: organization_pb2.Quota) -> Quota:
    """Converts Quota."""
    return Quota(**{f: getattr(q, f) for f in Quota.__dataclass_fields__})


def quota_proto(q: Quota) -> organization_pb2.Quota:
    """Builds a Quota message."""
    return organization_pb2.Quota(**{f: getattr(q, f) for f in Quota.__dataclass_fields__})


def usage(u: organization_pb2.Usage) -> Usage:
    """Converts Usage."""
    return Usage(
        sandboxes=u.sandboxes,
        started_sandboxes=u.started_sandboxes,
        cpu_millicores=u.cpu_millicores,
        memory_mib=u.memory_mib,
        disk_mib=u.disk_mib,
        snapshots=u.snapshots,
        volumes=u.volumes,
        api_keys=u.api_keys,
        observed_at=cv.time_of(u, "observe_time"),
    )


def organization(o: organization_pb2.Organization, caller_role: int = 0) -> Organization:
    """Converts Organization (with the caller's role when known)."""
    return Organization(
        id=o.organization_id,
        name=o.name,
        quota=quota(o.quota),
        created_at=cv.time_of(o, "create_time"),
        updated_at=cv.time_of(o, "update_time"),
        role=role_name(caller_role),
    )


def member(m: organization_pb2.Member) -> Member:
    """Converts Member."""
    return Member(
        organization_id=m.organization_id,
        user_id=m.user_id,
        email=m.email,
        display_name=m.display_name,
        role=role_name(m.role) or "viewer",
        joined_at=cv.time_of(m, "create_time"),
    )


def api_key(k: api_key_pb2.ApiKey) -> ApiKey:
    """Converts ApiKey."""
    return ApiKey(
        id=k.api_key_id,
        organization_id=k.organization_id,
        name=k.name,
        prefix=k.key_prefix,
        scopes=list(k.scopes),
        state=api_key_pb2.ApiKeyState.Name(k.state).removeprefix("API_KEY_STATE_").lower(),
        created_by_user_id=k.created_by_user_id,
        created_at=cv.time_of(k, "create_time"),
        expires_at=cv.time_of(k, "expire_time"),
        last_used_at=cv.time_of(k, "last_use_time"),
        revoked_at=cv.time_of(k, "revoke_time"),
    )


def audit_event(e: audit_event_pb2.AuditEvent) -> AuditEvent:
    """Converts AuditEvent."""
    return AuditEvent(
        id=e.audit_event_id,
        organization_id=e.organization_id,
        time=cv.time_of(e, "event_time"),
        actor_type=audit_event_pb2.ActorType.Name(e.actor.type).removeprefix("ACTOR_TYPE_").lower(),
        user_id=e.actor.user_id,
        api_key_id=e.actor.api_key_id,
        actor_name=e.actor.display_name,
        method=e.method,
        resource_type=e.resource_type,
        resource_id=e.resource_id,
        code=e.code,
        error_reason=cv.reason_name(e.error_reason),
        request_id=e.request_id,
        client_ip=e.client_ip,
        user_agent=e.user_agent,
        details=dict(e.details),
    )
