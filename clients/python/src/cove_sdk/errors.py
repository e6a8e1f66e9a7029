"""The SDK's exceptions and the one table that maps gRPC failures onto them."""

from __future__ import annotations

from typing import Any, Optional

import grpc
from google.rpc import error_details_pb2, status_pb2

#: The ErrorInfo domain of every error a Cove component returns.
ERROR_DOMAIN = "cove.dev"

_STATUS_DETAILS_KEY = "grpc-status-details-bin"


class CoveError(Exception):
    """Base class of every error the SDK raises for a failed Cove call.

    ``code`` is the gRPC status code (``None`` for failures that happened in the SDK itself),
    ``reason`` the ``google.rpc.ErrorInfo`` reason from domain ``cove.dev`` (e.g.
    ``"SANDBOX_NOT_FOUND"``) or ``None`` when the server sent none, and ``metadata`` the
    ErrorInfo metadata (e.g. ``{"sandboxId": "...", "requestId": "..."}``).
    """

    def __init__(
        self,
        message: str,
        *,
        code: Optional[grpc.StatusCode] = None,
        reason: Optional[str] = None,
        metadata: Optional[dict[str, str]] = None,
        retry_after: Optional[float] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.reason = reason
        self.metadata: dict[str, str] = dict(metadata or {})
        #: Seconds the server asked the client to wait before retrying (google.rpc.RetryInfo).
        self.retry_after = retry_after

    @property
    def request_id(self) -> Optional[str]:
        """The id of the request in the server's logs, when the server sent one."""
        return self.metadata.get("requestId")

    def __str__(self) -> str:
        label = self.code.name if self.code is not None else "CLIENT"
        if self.reason:
            label = f"{label} ({self.reason})"
        return f"{label}: {self.message}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, code={self.code}, reason={self.reason!r}, "
            f"metadata={self.metadata!r})"
        )


class CoveNotFoundError(CoveError):
    """The sandbox, file, process or session does not exist (or belongs to someone else)."""


class CoveAuthenticationError(CoveError):
    """No API key, or an unknown, expired or revoked one."""


class CovePermissionError(CoveError):
    """The credentials are valid but not allowed to do this (scope, role, file permissions)."""


class CoveRateLimitError(CoveError):
    """Too many requests or streams, or no runner capacity right now; retrying later helps."""


class CoveQuotaError(CoveError):
    """A quota or size limit (organization quota, payload size, disk, memory) was hit."""


class CoveTimeoutError(CoveError):
    """A deadline passed: the call's own, a wait timeout, or a command's timeout."""


class CoveConflictError(CoveError):
    """The object exists already, or its state does not allow the call (e.g. session busy)."""


class CoveUnavailableError(CoveError):
    """Cove, the runner or the sandbox's daemon cannot be reached right now."""


class CoveValidationError(CoveError):
    """A request field is missing, malformed or out of range."""


# THE table. A reason listed here wins over its status code; everything else goes by code;
# codes not listed (CANCELLED, UNKNOWN, INTERNAL, UNIMPLEMENTED, DATA_LOSS) are plain CoveError.
_CLASS_BY_REASON: dict[str, type[CoveError]] = {
    "QUOTA_EXCEEDED": CoveQuotaError,
    "PAYLOAD_TOO_LARGE": CoveQuotaError,
    "DISK_FULL": CoveQuotaError,
    "OUT_OF_MEMORY": CoveQuotaError,
}
_CLASS_BY_CODE: dict[grpc.StatusCode, type[CoveError]] = {
    grpc.StatusCode.NOT_FOUND: CoveNotFoundError,
    grpc.StatusCode.UNAUTHENTICATED: CoveAuthenticationError,
    grpc.StatusCode.PERMISSION_DENIED: CovePermissionError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: CoveRateLimitError,
    grpc.StatusCode.DEADLINE_EXCEEDED: CoveTimeoutError,
    grpc.StatusCode.ALREADY_EXISTS: CoveConflictError,
    grpc.StatusCode.FAILED_PRECONDITION: CoveConflictError,
    grpc.StatusCode.ABORTED: CoveConflictError,
    grpc.StatusCode.UNAVAILABLE: CoveUnavailableError,
    grpc.StatusCode.INVALID_ARGUMENT: CoveValidationError,
    grpc.StatusCode.OUT_OF_RANGE: CoveValidationError,
}

# Only these codes are retried, and RESOURCE_EXHAUSTED only when it maps to CoveRateLimitError
# (a quota or size cap does not go away by waiting).
_RETRYABLE_CODES = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.ABORTED}
)


def error_class(code: Optional[grpc.StatusCode], reason: Optional[str]) -> type[CoveError]:
    """Returns the SDK exception class for a status code and ErrorInfo reason."""
    if reason and reason in _CLASS_BY_REASON:
        return _CLASS_BY_REASON[reason]
    if code is None:
        return CoveError
    return _CLASS_BY_CODE.get(code, CoveError)


def is_retryable(error: CoveError) -> bool:
    """Tells whether a failed unary call may be retried (STYLE: UNAVAILABLE, RESOURCE_EXHAUSTED, ABORTED)."""
    if error.code not in _RETRYABLE_CODES:
        return False
    return not isinstance(error, CoveQuotaError)


def _metadata_value(metadata: Any, key: str) -> Any:
    """Returns the value of key in grpc trailing metadata (sync tuples or aio Metadata)."""
    if not metadata:
        return None
    for item in metadata:
        k, v = (item.key, item.value) if hasattr(item, "key") else item
        if k == key:
            return v
    return None


def _decode_status(error: grpc.RpcError) -> Optional[status_pb2.Status]:
    """Decodes the google.rpc.Status the server put in the grpc-status-details-bin trailer."""
    raw = None
    if isinstance(error, grpc.Call):
        # grpc_status.rpc_status.from_call does the same for sync calls but raises when the
        # status disagrees with the call's code; the SDK prefers the plain code then.
        try:
            from grpc_status import rpc_status

            return rpc_status.from_call(error)
        except ValueError:
            return None
    trailing = getattr(error, "trailing_metadata", None)
    if callable(trailing):
        raw = _metadata_value(trailing(), _STATUS_DETAILS_KEY)
    if not raw:
        return None
    try:
        return status_pb2.Status.FromString(raw)
    except Exception:  # noqa: BLE001 — a malformed trailer must not hide the real error
        return None


def from_rpc_error(error: grpc.RpcError) -> CoveError:
    """Converts a grpc (sync or aio) RpcError into the matching CoveError subclass."""
    code = error.code() if callable(getattr(error, "code", None)) else None
    message = (error.details() if callable(getattr(error, "details", None)) else None) or ""
    reason: Optional[str] = None
    metadata: dict[str, str] = {}
    retry_after: Optional[float] = None
    status = _decode_status(error)
    if status is not None:
        for detail in status.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                if info.domain == ERROR_DOMAIN and reason is None:
                    reason = info.reason or None
                    metadata = dict(info.metadata)
            elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                retry = error_details_pb2.RetryInfo()
                detail.Unpack(retry)
                retry_after = retry.retry_delay.ToTimedelta().total_seconds()
    if not message and code is not None:
        message = code.name.lower().replace("_", " ")
    cls = error_class(code, reason)
    return cls(message, code=code, reason=reason, metadata=metadata, retry_after=retry_after)
