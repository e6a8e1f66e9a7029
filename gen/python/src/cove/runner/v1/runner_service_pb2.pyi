from cove.runner.v1 import runner_pb2 as _runner_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ConnectRequest(_message.Message):
    __slots__ = ("hello", "heartbeat", "sandbox_state", "ack", "progress", "result")
    HELLO_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_STATE_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    hello: _runner_pb2.RunnerHello
    heartbeat: _runner_pb2.RunnerHeartbeat
    sandbox_state: _runner_pb2.SandboxReport
    ack: _runner_pb2.CommandAck
    progress: _runner_pb2.CommandProgress
    result: _runner_pb2.CommandResult
    def __init__(self, hello: _Optional[_Union[_runner_pb2.RunnerHello, _Mapping]] = ..., heartbeat: _Optional[_Union[_runner_pb2.RunnerHeartbeat, _Mapping]] = ..., sandbox_state: _Optional[_Union[_runner_pb2.SandboxReport, _Mapping]] = ..., ack: _Optional[_Union[_runner_pb2.CommandAck, _Mapping]] = ..., progress: _Optional[_Union[_runner_pb2.CommandProgress, _Mapping]] = ..., result: _Optional[_Union[_runner_pb2.CommandResult, _Mapping]] = ...) -> None: ...

class ConnectResponse(_message.Message):
    __slots__ = ("hello_ack", "command", "cancel_command", "ping")
    HELLO_ACK_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    CANCEL_COMMAND_FIELD_NUMBER: _ClassVar[int]
    PING_FIELD_NUMBER: _ClassVar[int]
    hello_ack: _runner_pb2.HelloAck
    command: _runner_pb2.RunnerCommand
    cancel_command: _runner_pb2.CancelCommand
    ping: _runner_pb2.Ping
    def __init__(self, hello_ack: _Optional[_Union[_runner_pb2.HelloAck, _Mapping]] = ..., command: _Optional[_Union[_runner_pb2.RunnerCommand, _Mapping]] = ..., cancel_command: _Optional[_Union[_runner_pb2.CancelCommand, _Mapping]] = ..., ping: _Optional[_Union[_runner_pb2.Ping, _Mapping]] = ...) -> None: ...
