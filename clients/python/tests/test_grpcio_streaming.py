"""Every streaming kind of the toolbox from plain grpcio through the proxy, with the generated
stubs only (no SDK in the call path): unary, server stream, client stream and bidi."""

from __future__ import annotations

import hashlib
import os
from typing import Iterator

import grpc

from cove.toolbox.v1 import (
    filesystem_service_pb2 as fs_pb,
    filesystem_service_pb2_grpc as fs_grpc,
    port_service_pb2 as port_pb,
    port_service_pb2_grpc as port_grpc,
    process_pb2,
    process_service_pb2 as proc_pb,
    process_service_pb2_grpc as proc_grpc,
)
from cove_sdk import Sandbox

from .conftest import Stack

ECHO_SERVER = """
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 7070)); s.listen(1)
while True:
    c, _ = s.accept()
    while True:
        b = c.recv(65536)
        if not b: break
        c.sendall(b)
    c.close()
"""


def _channel(stack: Stack) -> grpc.Channel:
    """A plain insecure channel to the proxy."""
    return grpc.insecure_channel(stack["proxyUrl"].removeprefix("http://"))


def _metadata(stack: Stack, sandbox: Sandbox) -> list[tuple[str, str]]:
    """The proxy's routing and credential headers."""
    return [("cove-sandbox-id", sandbox.id), ("authorization", f"Bearer {stack['adminKey']}")]


def test_every_streaming_kind_through_the_proxy(stack: Stack, sandbox: Sandbox) -> None:
    md = _metadata(stack, sandbox)
    with _channel(stack) as channel:
        process = proc_grpc.ProcessServiceStub(channel)
        # Unary.
        res = process.Exec(proc_pb.ExecRequest(command="echo unary"), metadata=md, timeout=30)
        assert res.stdout == b"unary\n"

        # Client stream: UploadFile of 3 MiB in chunks, then read back with a server stream.
        payload = os.urandom(3 * 1024 * 1024)

        def upload() -> Iterator[fs_pb.UploadFileRequest]:
            yield fs_pb.UploadFileRequest(header=fs_pb.UploadFileHeader(path="grpcio.bin"))
            for i in range(0, len(payload), 512 * 1024):
                yield fs_pb.UploadFileRequest(data=payload[i : i + 512 * 1024])

        files = fs_grpc.FilesystemServiceStub(channel)
        files.UploadFile(upload(), metadata=md, timeout=60)
        got = b"".join(r.data for r in files.ReadFile(fs_pb.ReadFileRequest(path="grpcio.bin"), metadata=md, timeout=60))
        assert hashlib.sha256(got).digest() == hashlib.sha256(payload).digest()

        # Server stream: Start delivers output before the end event.
        kinds = [
            e.event.WhichOneof("event")
            for e in process.Start(proc_pb.StartRequest(command="echo a; sleep 0.2; echo b"), metadata=md, timeout=30)
        ]
        assert kinds[0] == "start" and kinds[-1] == "end" and "data" in kinds

        # Bidi: a tunnel to an echo server inside the sandbox.
        process.Exec(
            proc_pb.ExecRequest(command=f"cat > /tmp/echo.py <<'EOF'\n{ECHO_SERVER}\nEOF"), metadata=md, timeout=30
        )
        server = process.Start(proc_pb.StartRequest(command="python3 /tmp/echo.py", tag="echo"), metadata=md)
        next(server)  # the start event: the server is running
        ports = port_grpc.PortServiceStub(channel)
        ports.WaitForPort(port_pb.WaitForPortRequest(port=7070), metadata=md, timeout=30)
        message = b"over the tunnel \xf0\x9f\x8c\x8a"

        def tunnel() -> Iterator[port_pb.TunnelRequest]:
            yield port_pb.TunnelRequest(open=port_pb.TunnelOpen(port=7070))
            yield port_pb.TunnelRequest(data=message)

        echoed = b""
        call = ports.Tunnel(tunnel(), metadata=md, timeout=30)
        for response in call:
            if response.event.WhichOneof("event") == "data":
                echoed += response.event.data
                if len(echoed) >= len(message):
                    call.cancel()
                    break
        assert echoed == message
        process.SendSignal(
            proc_pb.SendSignalRequest(process=process_pb2.ProcessSelector(tag="echo"), signal=process_pb2.SIGNAL_SIGKILL),
            metadata=md,
            timeout=30,
        )
