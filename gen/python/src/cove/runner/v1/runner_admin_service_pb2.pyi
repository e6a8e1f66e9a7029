from cove.runner.v1 import runner_pb2 as _runner_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreateRunnerRequest(_message.Message):
    __slots__ = ("runner_id", "name", "region")
    RUNNER_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    runner_id: str
    name: str
    region: str
    def __init__(self, runner_id: _Optional[str] = ..., name: _Optional[str] = ..., region: _Optional[str] = ...) -> None: ...

class CreateRunnerResponse(_message.Message):
    __slots__ = ("runner", "token")
    RUNNER_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    runner: _runner_pb2.Runner
    token: str
    def __init__(self, runner: _Optional[_Union[_runner_pb2.Runner, _Mapping]] = ..., token: _Optional[str] = ...) -> None: ...

class GetRunnerRequest(_message.Message):
    __slots__ = ("runner_id",)
    RUNNER_ID_FIELD_NUMBER: _ClassVar[int]
    runner_id: str
    def __init__(self, runner_id: _Optional[str] = ...) -> None: ...

class GetRunnerResponse(_message.Message):
    __slots__ = ("runner",)
    RUNNER_FIELD_NUMBER: _ClassVar[int]
    runner: _runner_pb2.Runner
    def __init__(self, runner: _Optional[_Union[_runner_pb2.Runner, _Mapping]] = ...) -> None: ...

class ListRunnersRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "region", "states")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    region: str
    states: _containers.RepeatedScalarFieldContainer[_runner_pb2.RunnerState]
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., region: _Optional[str] = ..., states: _Optional[_Iterable[_Union[_runner_pb2.RunnerState, str]]] = ...) -> None: ...

class ListRunnersResponse(_message.Message):
    __slots__ = ("runners", "next_page_token")
    RUNNERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    runners: _containers.RepeatedCompositeFieldContainer[_runner_pb2.Runner]
    next_page_token: str
    def __init__(self, runners: _Optional[_Iterable[_Union[_runner_pb2.Runner, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DrainRunnerRequest(_message.Message):
    __slots__ = ("runner_id",)
    RUNNER_ID_FIELD_NUMBER: _ClassVar[int]
    runner_id: str
    def __init__(self, runner_id: _Optional[str] = ...) -> None: ...

class DrainRunnerResponse(_message.Message):
    __slots__ = ("runner",)
    RUNNER_FIELD_NUMBER: _ClassVar[int]
    runner: _runner_pb2.Runner
    def __init__(self, runner: _Optional[_Union[_runner_pb2.Runner, _Mapping]] = ...) -> None: ...

class UndrainRunnerRequest(_message.Message):
    __slots__ = ("runner_id",)
    RUNNER_ID_FIELD_NUMBER: _ClassVar[int]
    runner_id: str
    def __init__(self, runner_id: _Optional[str] = ...) -> None: ...

class UndrainRunnerResponse(_message.Message):
    __slots__ = ("runner",)
    RUNNER_FIELD_NUMBER: _ClassVar[int]
    runner: _runner_pb2.Runner
    def __init__(self, runner: _Optional[_Union[_runner_pb2.Runner, _Mapping]] = ...) -> None: ...

class DeleteRunnerRequest(_message.Message):
    __slots__ = ("runner_id",)
    RUNNER_ID_FIELD_NUMBER: _ClassVar[int]
    runner_id: str
    def __init__(self, runner_id: _Optional[str] = ...) -> None: ...

class DeleteRunnerResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
