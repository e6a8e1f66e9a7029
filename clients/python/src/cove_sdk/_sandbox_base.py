"""The sandbox fields both the sync and the asyncio Sandbox expose."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from cove.sandbox.v1 import sandbox_pb2

from . import _convert as cv
from .models import SandboxResources


class SandboxData:
    """A sandbox's last known record; refresh_data() re-reads it from the server."""

    id: str
    organization_id: str
    snapshot: str
    image: str
    state: str
    desired_state: str
    error_reason: Optional[str]
    error_message: str
    recoverable: bool
    resources: SandboxResources
    labels: dict[str, str]
    os_user: str
    public: bool
    region: str
    runner_id: str
    toolbox_url: str
    created_at: Optional[datetime]
    updated_at: Optional[datetime]

    def _apply(self, message: sandbox_pb2.Sandbox) -> None:
        """Copies a Sandbox message into the attributes."""
        self.id = message.sandbox_id
        self.organization_id = message.organization_id
        self.snapshot = message.snapshot_id
        self.image = message.image
        self.state = cv.state_name(message.state)
        self.desired_state = cv.state_name(message.desired_state)
        self.error_reason = cv.reason_name(message.error_reason)
        self.error_message = message.error_message
        self.recoverable = message.recoverable
        self.resources = cv.sandbox_resources(message.resources)
        self.labels = dict(message.labels)
        self.os_user = message.os_user
        self.public = message.public
        self.region = message.region
        self.runner_id = message.runner_id
        self.toolbox_url = message.toolbox_url
        self.created_at = cv.time_of(message, "create_time")
        self.updated_at = cv.time_of(message, "update_time")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self.id!r}, state={self.state!r}, image={self.image!r})"
