"""Errors: the one code/reason table, ErrorInfo decoding, retries, and real failures."""

from __future__ import annotations

import asyncio
from typing import Any, Optional

import grpc
import pytest
from cove.sandbox.v1 import sandbox_pb2
from google.rpc import error_details_pb2, status_pb2

from cove_sdk import (
    AsyncCove,
    Cove,
    CoveAuthenticationError,
    CoveConflictError,
    CoveError,
    CoveNotFoundError,
    CovePermissionError,
    CoveQuotaError,
    CoveRateLimitError,
    CoveTimeoutError,
    CoveUnavailableError,
    CoveValidationError,
    Sandbox,
)
from cove_sdk._rpc import SyncRpc
from cove_sdk._transport import ClientConfig
from cove_sdk.errors import from_rpc_error

from .conftest import Stack

MISSING_ID = "0" * 20


class FakeRpcError(grpc.RpcError):
    """An RpcError as grpc.aio raises it: code, details and trailing metadata."""

    def __init__(self, code: grpc.StatusCode, details: str = "", reason: Optional[str] = None, **md: str) -> None:
        self._code, self._details = code, details
        self._trailers: tuple[tuple[str, Any], ...] = ()
        if reason is not None:
            info = error_details_pb2.ErrorInfo(reason=reason, domain="cove.dev", metadata=md)
            status = status_pb2.Status(code=code.value[0], message=details)
            status.details.add().Pack(info)
            self._trailers = (("grpc-status-details-bin", status.SerializeToString()),)

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def trailing_metadata(self) -> Any:
        return self._trailers


@pytest.mark.parametrize(
    ("code", "reason", "expected"),
    [
        (grpc.StatusCode.NOT_FOUND, "SANDBOX_NOT_FOUND", CoveNotFoundError),
        (grpc.StatusCode.UNAUTHENTICATED, "API_KEY_INVALID", CoveAuthenticationError),
        (grpc.StatusCode.PERMISSION_DENIED, None, CovePermissionError),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, "RATE_LIMITED", CoveRateLimitError),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, "QUOTA_EXCEEDED", CoveQuotaError),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, "PAYLOAD_TOO_LARGE", CoveQuotaError),
        (grpc.StatusCode.DEADLINE_EXCEEDED, "WAIT_TIMED_OUT", CoveTimeoutError),
        (grpc.StatusCode.ALREADY_EXISTS, "TAG_IN_USE", CoveConflictError),
        (grpc.StatusCode.FAILED_PRECONDITION, "SANDBOX_STATE_CONFLICT", CoveConflictError),
        (grpc.StatusCode.UNAVAILABLE, None, CoveUnavailableError),
        (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_FIELD", CoveValidationError),
        (grpc.StatusCode.INTERNAL, "INTERNAL", CoveError),
    ],
)
def test_table_maps_code_and_reason_to_one_class(
    code: grpc.StatusCode, reason: Optional[str], expected: type[CoveError]
) -> None:
    error = from_rpc_error(FakeRpcError(code, "it failed", reason, requestId="req_1"))
    assert type(error) is expected
    assert (error.code, error.reason, error.message) == (code, reason, "it failed")
    if reason is not None:
        assert error.request_id == "req_1"


class _Flaky:
    """A unary method that fails with the given errors first, then answers "ok"."""

    def __init__(self, *errors: grpc.RpcError) -> None:
        self.errors = list(errors)
        self.timeouts: list[float] = []

    def __call__(self, request: Any, metadata: Any, timeout: float) -> str:
        self.timeouts.append(timeout)
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def _rpc(max_retries: int = 3) -> SyncRpc:
    rpc = SyncRpc(ClientConfig("cove_sk_x", "http://127.0.0.1:1", None, timeout=10, max_retries=max_retries))
    rpc.backoff.initial_s = 0.01
    return rpc


def test_unary_calls_retry_unavailable_and_throttling_with_a_shrinking_deadline() -> None:
    method = _Flaky(
        FakeRpcError(grpc.StatusCode.UNAVAILABLE),
        FakeRpcError(grpc.StatusCode.RESOURCE_EXHAUSTED, "slow down", "RATE_LIMITED"),
        FakeRpcError(grpc.StatusCode.ABORTED),
    )
    assert _rpc().unary(method, None, ()) == "ok"
    assert len(method.timeouts) == 4
    assert all(0 < t <= 10 for t in method.timeouts)
    assert method.timeouts == sorted(method.timeouts, reverse=True)


@pytest.mark.parametrize(
    "error",
    [
        FakeRpcError(grpc.StatusCode.NOT_FOUND, "gone", "SANDBOX_NOT_FOUND"),
        FakeRpcError(grpc.StatusCode.RESOURCE_EXHAUSTED, "quota", "QUOTA_EXCEEDED"),
        FakeRpcError(grpc.StatusCode.INTERNAL, "boom"),
    ],
)
def test_other_failures_are_not_retried(error: FakeRpcError) -> None:
    method = _Flaky(error)
    with pytest.raises(CoveError):
        _rpc().unary(method, None, ())
    assert len(method.timeouts) == 1


def test_commands_are_not_retried_after_unavailable() -> None:
    # The command may already have run; only throttling (answered before running) is retried.
    method = _Flaky(FakeRpcError(grpc.StatusCode.UNAVAILABLE))
    with pytest.raises(CoveUnavailableError):
        _rpc().unary(method, None, (), idempotent=False)
    method = _Flaky(FakeRpcError(grpc.StatusCode.RESOURCE_EXHAUSTED, "slow", "RATE_LIMITED"))
    assert _rpc().unary(method, None, (), idempotent=False) == "ok"


def test_retries_stop_at_max_retries() -> None:
    method = _Flaky(*[FakeRpcError(grpc.StatusCode.UNAVAILABLE) for _ in range(10)])
    with pytest.raises(CoveUnavailableError):
        _rpc(max_retries=2).unary(method, None, ())
    assert len(method.timeouts) == 3


def test_missing_sandbox_is_not_found_with_its_reason(cove: Cove) -> None:
    with pytest.raises(CoveNotFoundError) as caught:
        cove.get(MISSING_ID)
    error = caught.value
    assert error.code == grpc.StatusCode.NOT_FOUND
    assert error.reason == "SANDBOX_NOT_FOUND"
    assert error.metadata["sandboxId"] == MISSING_ID
    assert error.request_id
    assert MISSING_ID in str(error)


def test_bad_api_key_is_an_authentication_error_on_api_and_toolbox(stack: Stack, sandbox: Sandbox) -> None:
    with Cove(**{**stack.client_kwargs(), "api_key": "cove_sk_not-a-real-key"}) as bad:
        with pytest.raises(CoveAuthenticationError) as caught:
            bad.list()
        assert caught.value.reason == "API_KEY_INVALID"
        # Toolbox calls go through the proxy, which checks the key too.
        # (A Sandbox built from the record, since the bad key cannot even read it.)
        record = sandbox_pb2.Sandbox(sandbox_id=sandbox.id, toolbox_url=sandbox.toolbox_url)
        with pytest.raises(CoveAuthenticationError) as caught:
            Sandbox(bad, record).process.exec("true")
        assert caught.value.reason == "API_KEY_INVALID"


def test_missing_file_is_not_found_with_its_reason(sandbox: Sandbox) -> None:
    with pytest.raises(CoveNotFoundError) as caught:
        sandbox.fs.download_file("no/such/file.txt")
    assert caught.value.reason == "FILE_NOT_FOUND"


def test_client_side_validation(sandbox: Sandbox) -> None:
    with pytest.raises(CoveValidationError):
        sandbox.process.code_run("print(1)", language="cobol")


def test_async_errors_map_the_same_way(stack: Stack) -> None:
    async def main() -> None:
        async with AsyncCove(**stack.client_kwargs()) as cove:
            with pytest.raises(CoveNotFoundError) as caught:
                await cove.get(MISSING_ID)
            assert caught.value.reason == "SANDBOX_NOT_FOUND"
        async with AsyncCove(**{**stack.client_kwargs(), "api_key": "cove_sk_not-a-real-key"}) as bad:
            with pytest.raises(CoveAuthenticationError) as caught_auth:
                await bad.list()
            assert caught_auth.value.reason == "API_KEY_INVALID"

    asyncio.run(main())


def test_no_api_key_fails_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COVE_API_KEY", raising=False)
    with pytest.raises(CoveAuthenticationError):
        Cove()
