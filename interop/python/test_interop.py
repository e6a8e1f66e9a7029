"""Python grpcio against a real Cove server (interop/fixture), through cove-proto."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

import grpc
import pytest
from cove.sandbox.v1 import sandbox_pb2, sandbox_service_pb2, sandbox_service_pb2_grpc
from google.protobuf import descriptor_pool, message_factory
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)
from grpc_status import rpc_status

# What interop/fixture/server.ts serves; kept in step with it by hand.
MISSING_SANDBOX_ID = "sbx-missing"
WATCHED_STATES = [
    sandbox_pb2.SANDBOX_STATE_CREATING,
    sandbox_pb2.SANDBOX_STATE_STARTING,
    sandbox_pb2.SANDBOX_STATE_STARTED,
]
SANDBOX_SERVICE = "cove.sandbox.v1.SandboxService"
UTF8_LABEL = "žluťoučký kůň ✓"
CREATE_TIME = datetime(2026, 1, 2, 3, 4, 5, 678_000, tzinfo=timezone.utc)
UNKNOWN_METHOD = "/cove.nothing.v1.NothingService/DoNothing"
TIMEOUT_S = 10.0


def _health(channel: grpc.Channel) -> health_pb2_grpc.HealthStub:
    """Returns a grpc.health.v1 stub from grpcio-health-checking."""
    return health_pb2_grpc.HealthStub(channel)


def _sandboxes(channel: grpc.Channel) -> sandbox_service_pb2_grpc.SandboxServiceStub:
    """Returns the generated cove-proto SandboxService stub."""
    return sandbox_service_pb2_grpc.SandboxServiceStub(channel)


def _rpc_error(call: Callable[[], object]) -> grpc.RpcError:
    """Runs a zero-argument call that must fail and returns its grpc.RpcError."""
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return caught.value


@pytest.mark.parametrize("service", ["", SANDBOX_SERVICE])
def test_health_check_reports_serving(channel: grpc.Channel, service: str) -> None:
    res = _health(channel).Check(health_pb2.HealthCheckRequest(service=service), timeout=TIMEOUT_S)
    assert res.status == health_pb2.HealthCheckResponse.SERVING


def test_health_check_of_unknown_service_is_not_found(channel: grpc.Channel) -> None:
    request = health_pb2.HealthCheckRequest(service="no.such.Service")
    err = _rpc_error(lambda: _health(channel).Check(request, timeout=TIMEOUT_S))
    assert err.code() == grpc.StatusCode.NOT_FOUND


def test_health_watch_starts_with_serving(channel: grpc.Channel) -> None:
    call = _health(channel).Watch(
        health_pb2.HealthCheckRequest(service=SANDBOX_SERVICE), timeout=TIMEOUT_S
    )
    try:
        first = next(call)
    finally:
        call.cancel()
    assert first.status == health_pb2.HealthCheckResponse.SERVING
    assert call.code() == grpc.StatusCode.CANCELLED


def test_get_sandbox_decodes_into_generated_messages(channel: grpc.Channel) -> None:
    res = _sandboxes(channel).GetSandbox(
        sandbox_service_pb2.GetSandboxRequest(sandbox_id="sbx-python"), timeout=TIMEOUT_S
    )
    sandbox = res.sandbox
    assert sandbox.sandbox_id == "sbx-python"
    assert sandbox.organization_id == "org-interop"
    assert sandbox.image == "cove/sandbox:interop"
    assert sandbox.state == sandbox_pb2.SANDBOX_STATE_STARTED
    assert sandbox_pb2.SandboxState.Name(sandbox.state) == "SANDBOX_STATE_STARTED"
    assert sandbox.desired_state == sandbox_pb2.SANDBOX_STATE_STARTED
    assert dict(sandbox.labels) == {"suite": "interop", "utf8-label": UTF8_LABEL}
    assert sandbox.resources == sandbox_pb2.Resources(
        cpu_millicores=1000, memory_mib=1024, disk_mib=3072
    )
    assert sandbox.HasField("create_time")
    assert sandbox.create_time.seconds == int(CREATE_TIME.replace(microsecond=0).timestamp())
    assert sandbox.create_time.nanos == 678_000_000
    assert sandbox.create_time.ToDatetime(tzinfo=timezone.utc) == CREATE_TIME


def test_get_missing_sandbox_is_not_found_with_error_info(channel: grpc.Channel) -> None:
    request = sandbox_service_pb2.GetSandboxRequest(sandbox_id=MISSING_SANDBOX_ID)
    err = _rpc_error(lambda: _sandboxes(channel).GetSandbox(request, timeout=TIMEOUT_S))
    assert err.code() == grpc.StatusCode.NOT_FOUND
    assert err.details() == f"sandbox {MISSING_SANDBOX_ID} not found"

    # from_call also checks that the rich status agrees with the call's code and message.
    status = rpc_status.from_call(err)
    assert status is not None, "no grpc-status-details-bin trailer"
    assert status.code == grpc.StatusCode.NOT_FOUND.value[0]
    infos = [d for d in status.details if d.Is(error_details_pb2.ErrorInfo.DESCRIPTOR)]
    assert len(infos) == 1, f"expected one ErrorInfo in {status.details}"
    info = error_details_pb2.ErrorInfo()
    assert infos[0].Unpack(info)
    assert info.reason == "SANDBOX_NOT_FOUND"
    assert info.domain == "cove.dev"
    assert dict(info.metadata) == {"sandbox_id": MISSING_SANDBOX_ID}


def test_watch_sandbox_streams_every_state_in_order(channel: grpc.Channel) -> None:
    call = _sandboxes(channel).WatchSandbox(
        sandbox_service_pb2.WatchSandboxRequest(sandbox_id="sbx-watch"), timeout=TIMEOUT_S
    )
    events = list(call)
    assert call.code() == grpc.StatusCode.OK
    assert [e.WhichOneof("event") for e in events] == ["initial", "state_change", "state_change"]

    initial, *changes = events
    assert initial.initial.sandbox_id == "sbx-watch"
    states = [initial.initial.state] + [c.state_change.sandbox.state for c in changes]
    assert states == WATCHED_STATES
    assert [c.state_change.previous_state for c in changes] == WATCHED_STATES[:-1]
    assert all(c.state_change.sandbox.sandbox_id == "sbx-watch" for c in changes)


def test_unimplemented_cove_method_is_unimplemented(channel: grpc.Channel) -> None:
    request = sandbox_service_pb2.DeleteSandboxRequest(sandbox_id="sbx-python")
    err = _rpc_error(lambda: _sandboxes(channel).DeleteSandbox(request, timeout=TIMEOUT_S))
    assert err.code() == grpc.StatusCode.UNIMPLEMENTED


def test_method_of_unknown_service_is_unimplemented_naming_it(channel: grpc.Channel) -> None:
    do_nothing = channel.unary_unary(
        UNKNOWN_METHOD,
        request_serializer=lambda b: b,
        response_deserializer=lambda b: b,
    )
    err = _rpc_error(lambda: do_nothing(b"", timeout=TIMEOUT_S))
    assert err.code() == grpc.StatusCode.UNIMPLEMENTED
    assert UNKNOWN_METHOD in (err.details() or "")


def _reflected_pool(
    channel: grpc.Channel,
) -> tuple[ProtoReflectionDescriptorDatabase, descriptor_pool.DescriptorPool]:
    """Returns a reflection database on the channel and a fresh DescriptorPool fed only by it."""
    database = ProtoReflectionDescriptorDatabase(channel)
    return database, descriptor_pool.DescriptorPool(database)


def test_reflection_lists_services(channel: grpc.Channel) -> None:
    database, _ = _reflected_pool(channel)
    services = set(database.get_services())
    assert {SANDBOX_SERVICE, "grpc.health.v1.Health"} <= services


def test_reflection_describes_cove_methods(channel: grpc.Channel) -> None:
    _, pool = _reflected_pool(channel)
    service = pool.FindServiceByName(SANDBOX_SERVICE)
    create = service.methods_by_name["CreateSandbox"]
    assert create.input_type.full_name == "cove.sandbox.v1.CreateSandboxRequest"
    assert create.output_type.full_name == "cove.sandbox.v1.CreateSandboxResponse"
    watch = service.methods_by_name["WatchSandbox"]
    assert (watch.client_streaming, watch.server_streaming) == (False, True)
    assert service.file.name == "cove/sandbox/v1/sandbox_service.proto"


def test_reflection_alone_suffices_for_a_call(channel: grpc.Channel) -> None:
    _, pool = _reflected_pool(channel)
    method = pool.FindMethodByName(f"{SANDBOX_SERVICE}.GetSandbox")
    request_class = message_factory.GetMessageClass(method.input_type)
    response_class = message_factory.GetMessageClass(method.output_type)
    # Built from the reflected descriptors, not the generated cove-proto modules.
    assert response_class is not sandbox_service_pb2.GetSandboxResponse
    assert response_class.DESCRIPTOR.file.pool is pool

    get_sandbox = channel.unary_unary(
        f"/{SANDBOX_SERVICE}/{method.name}",
        request_serializer=request_class.SerializeToString,
        response_deserializer=response_class.FromString,
    )
    res = get_sandbox(request_class(sandbox_id="sbx-reflected"), timeout=TIMEOUT_S)
    sandbox = res.sandbox
    assert sandbox.sandbox_id == "sbx-reflected"
    state_enum = sandbox.DESCRIPTOR.fields_by_name["state"].enum_type
    assert state_enum.values_by_number[sandbox.state].name == "SANDBOX_STATE_STARTED"
    assert sandbox.labels["utf8-label"] == UTF8_LABEL
    assert sandbox.create_time.ToDatetime(tzinfo=timezone.utc) == CREATE_TIME
