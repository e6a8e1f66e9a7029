"""IAM through the Python SDK (sync and asyncio): members added by email with a first key,
API keys created and revoked, usage and the audit log."""

from __future__ import annotations

import asyncio
import os
from datetime import datetime, timedelta, timezone

import pytest

from cove_sdk import (
    AsyncCove,
    Cove,
    CoveAuthenticationError,
    CoveConflictError,
    CovePermissionError,
    CoveValidationError,
)

from .conftest import Stack


def _client(stack: Stack, key: str) -> Cove:
    return Cove(api_key=key, api_url=stack["apiUrl"], proxy_url=stack["proxyUrl"])


def test_create_member_with_a_first_key_then_demote_and_remove(stack: Stack, cove: Cove) -> None:
    email = f"py-ada-{os.getpid()}@example.test"
    made = cove.organizations.create_member(
        email, "member", display_name="Ada", api_key_scopes=["sandboxes:read", "organization:read", "api_keys:read"]
    )
    assert made.user_created is True
    assert (made.member.email, made.member.display_name, made.member.role) == (email, "Ada", "member")
    assert made.api_key is not None and made.api_key.state == "active" and made.secret.startswith("cove_sk_")

    with _client(stack, made.secret) as ada:
        assert ada.organizations.get().role == "member"
        assert isinstance(ada.list(), list)
        assert [k.id for k in ada.api_keys.list()] == [made.api_key.id]
        with pytest.raises(CovePermissionError):
            ada.audit.list()
        with pytest.raises(CovePermissionError):
            ada.create()

        assert email in [m.email for m in cove.organizations.list_members()]
        with pytest.raises(CoveConflictError) as caught:
            cove.organizations.create_member(email, "viewer")
        assert caught.value.reason == "MEMBER_ALREADY_EXISTS"
        with pytest.raises(CoveValidationError):
            cove.organizations.create_member("not an email", "viewer")
        with pytest.raises(CoveValidationError):
            cove.organizations.create_member(email, "superuser")
        with pytest.raises(CovePermissionError):
            cove.organizations.create_member(f"v-{os.getpid()}@example.test", "viewer", api_key_scopes=["sandboxes:write"])

        events = cove.audit.list(method="cove.iam.v1.OrganizationService/CreateMember", limit=10)
        assert (made.member.user_id, "OK") in [(e.resource_id, e.code) for e in events]

        assert cove.organizations.update_member(made.member.user_id, "viewer").role == "viewer"
        cove.organizations.remove_member(made.member.user_id)
        with pytest.raises(CoveAuthenticationError):
            ada.organizations.get()


def test_api_keys_and_usage(stack: Stack, cove: Cove) -> None:
    before = cove.organizations.get_usage()[1].api_keys
    created = cove.api_keys.create("py-ci", ["sandboxes:read"], expires_at=datetime.now(timezone.utc) + timedelta(hours=1))
    key = created.api_key
    assert (key.name, key.scopes, key.state) == ("py-ci", ["sandboxes:read"], "active")
    assert key.expires_at is not None and key.expires_at > datetime.now(timezone.utc)
    assert created.secret.startswith(key.prefix)
    quota, usage = cove.organizations.get_usage()
    assert usage.api_keys == before + 1 and quota.max_sandboxes > 0
    assert cove.api_keys.get(key.id).name == "py-ci"
    with _client(stack, created.secret) as ci:
        ci.list()
        assert cove.api_keys.revoke(key.id).state == "revoked"
        with pytest.raises(CoveAuthenticationError) as caught:
            ci.list()
        assert caught.value.reason == "API_KEY_REVOKED"
    assert key.id in [k.id for k in cove.api_keys.list(states=["revoked"])]
    with pytest.raises(CoveValidationError):
        cove.api_keys.list(states=["lost"])


def test_async_iam(stack: Stack) -> None:
    async def main() -> None:
        async with AsyncCove(**stack.client_kwargs()) as cove:
            own = await cove.organizations.get()
            assert own.role == "owner"
            email = f"py-async-{os.getpid()}@example.test"
            made = await cove.organizations.create_member(email, "viewer", api_key_scopes=["sandboxes:read"])
            assert made.member.organization_id == own.id and made.secret
            assert email in [m.email for m in await cove.organizations.list_members()]
            key = (await cove.api_keys.create("py-async", ["sandboxes:read"])).api_key
            assert (await cove.api_keys.revoke(key.id)).state == "revoked"
            assert any(e.method.endswith("/CreateApiKey") for e in await cove.audit.list(limit=20))
            await cove.organizations.remove_member(made.member.user_id)

    asyncio.run(main())
