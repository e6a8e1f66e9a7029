"""Pieces of sandbox.code_interpreter shared by the sync and asyncio clients: requests, the
conversion of contexts and results, and the accumulation of one execution's events."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable, Optional, Union

from cove.toolbox.v1 import interpreter_pb2, interpreter_service_pb2, language_pb2

from . import _convert as cv
from .errors import CoveUnavailableError
from .models import Chart, ChartAxis, ChartSeries, CodeContext, Execution, ExecutionError, ExecutionResult

#: Characters of each printed stream an Execution keeps (callbacks still get everything).
MAX_EXECUTION_LOG_CHARS = 8 * 1024 * 1024

ContextRef = Union[CodeContext, str]


def context_id(context: Optional[ContextRef]) -> str:
    """The id of a context or id; "" (the default context) for None."""
    if context is None:
        return ""
    return context if isinstance(context, str) else context.id


def code_context(m: interpreter_pb2.CodeContext) -> CodeContext:
    """Converts CodeContext."""
    return CodeContext(
        id=m.context_id,
        language=language_pb2.CodeLanguage.Name(m.language).removeprefix("CODE_LANGUAGE_").lower(),
        cwd=m.cwd,
        execution_count=m.execution_count,
        busy=m.busy,
        created_at=cv.time_of(m, "create_time"),
    )


def create_context_request(
    language: Optional[str], cwd: Optional[str], env: Optional[Mapping[str, str]]
) -> interpreter_service_pb2.CreateContextRequest:
    """Builds CreateContextRequest (Python unless language says otherwise)."""
    return interpreter_service_pb2.CreateContextRequest(
        language=cv.language(language or "python"), cwd=cwd or "", env=dict(env or {})
    )


def run_code_request(
    code: str,
    context: Optional[ContextRef],
    language: Optional[str],
    env: Optional[Mapping[str, str]],
    timeout: Optional[float],
) -> interpreter_service_pb2.RunCodeRequest:
    """Builds RunCodeRequest; timeout (s) interrupts the execution, None means none."""
    request = interpreter_service_pb2.RunCodeRequest(
        context_id=context_id(context),
        language=cv.language(language or "python"),
        code=code,
        env=dict(env or {}),
    )
    if timeout:
        request.timeout.CopyFrom(cv.duration(timeout))
    return request


_CHART_TYPES = {
    interpreter_pb2.CHART_TYPE_LINE: "line",
    interpreter_pb2.CHART_TYPE_BAR: "bar",
    interpreter_pb2.CHART_TYPE_SCATTER: "scatter",
    interpreter_pb2.CHART_TYPE_PIE: "pie",
}


def _axis(m: interpreter_pb2.Chart, name: str) -> Optional[ChartAxis]:
    if not m.HasField(name):
        return None
    a = getattr(m, name)
    return ChartAxis(label=a.label, scale=a.scale, ticks=list(a.ticks), tick_labels=list(a.tick_labels))


def chart(m: interpreter_pb2.Chart) -> Optional[Chart]:
    """Converts Chart (None for a kind this SDK does not know)."""
    kind = _CHART_TYPES.get(m.type)
    if kind is None:
        return None
    return Chart(
        type=kind,
        title=m.title,
        x_axis=_axis(m, "x_axis"),
        y_axis=_axis(m, "y_axis"),
        series=[ChartSeries(label=s.label, x=list(s.x), x_labels=list(s.x_labels), y=list(s.y)) for s in m.series],
        horizontal=m.horizontal,
    )


def execution_result(m: interpreter_pb2.ExecutionResult) -> ExecutionResult:
    """Converts ExecutionResult."""
    return ExecutionResult(
        is_main_result=m.is_main_result,
        data=dict(m.text_data),
        binary=dict(m.binary_data),
        chart=chart(m.chart) if m.HasField("chart") else None,
    )


class _Log:
    """A printed stream kept up to MAX_EXECUTION_LOG_CHARS."""

    def __init__(self) -> None:
        self.pieces: list[str] = []
        self.chars = 0
        self.truncated = False

    def add(self, text: str) -> None:
        if self.chars + len(text) > MAX_EXECUTION_LOG_CHARS:
            self.truncated = True
            return
        self.pieces.append(text)
        self.chars += len(text)


class ExecutionBuilder:
    """Collects one RunCode stream's events into an Execution.

    ``add(event)`` returns the callback to run for the event and its argument (or None), so that
    the sync client can call it and the asyncio client can await it.
    """

    def __init__(
        self,
        on_stdout: Optional[Callable[[str], Any]],
        on_stderr: Optional[Callable[[str], Any]],
        on_result: Optional[Callable[[ExecutionResult], Any]],
        on_error: Optional[Callable[[ExecutionError], Any]],
    ) -> None:
        self._callbacks = (on_stdout, on_stderr, on_result, on_error)
        self._stdout = _Log()
        self._stderr = _Log()
        self._results: list[ExecutionResult] = []
        self._error: Optional[ExecutionError] = None
        self._count = 0
        self._timed_out = False
        self._ended = False

    def add(self, event: interpreter_pb2.ExecutionEvent) -> Optional[tuple[Callable[[Any], Any], Any]]:
        """Records one event; returns (callback, argument) to deliver, or None."""
        on_stdout, on_stderr, on_result, on_error = self._callbacks
        kind = event.WhichOneof("event")
        if kind == "stdout":
            self._stdout.add(event.stdout.text)
            return (on_stdout, event.stdout.text) if on_stdout else None
        if kind == "stderr":
            self._stderr.add(event.stderr.text)
            return (on_stderr, event.stderr.text) if on_stderr else None
        if kind == "result":
            result = execution_result(event.result)
            self._results.append(result)
            return (on_result, result) if on_result else None
        if kind == "error":
            self._error = ExecutionError(
                name=event.error.name, value=event.error.value, traceback=event.error.traceback
            )
            return (on_error, self._error) if on_error else None
        if kind == "end":
            self._ended = True
            self._count = event.end.execution_count
            self._timed_out = event.end.timed_out
        return None

    def build(self) -> Execution:
        """The Execution; CoveUnavailableError when the stream closed before its end event."""
        if not self._ended:
            raise CoveUnavailableError("run_code: the stream closed before the execution ended")
        return Execution(
            results=self._results,
            stdout="".join(self._stdout.pieces),
            stderr="".join(self._stderr.pieces),
            error=self._error,
            execution_count=self._count,
            timed_out=self._timed_out,
            logs_truncated=self._stdout.truncated or self._stderr.truncated,
        )
