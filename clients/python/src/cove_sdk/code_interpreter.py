"""sandbox.code_interpreter: stateful code contexts (Jupyter-style kernels), shaped like
Daytona's and E2B's: create_context / list_contexts / delete_context, and
run_code(code, context=..., on_stdout=..., on_stderr=..., on_result=..., timeout=...)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Callable, Optional

import grpc
from cove.toolbox.v1 import interpreter_service_pb2 as pb
from cove.toolbox.v1 import interpreter_service_pb2_grpc

from . import _interpreter as ip
from ._interpreter import ContextRef
from ._rpc import StreamPump
from ._transport import DEADLINE_MARGIN_S
from .models import CodeContext, Execution, ExecutionError, ExecutionResult

if TYPE_CHECKING:
    from ._rpc import SyncRpc

#: The call deadline of a run_code without a timeout (the daemon's longest timeout, 24 h).
RUN_CODE_DEADLINE_S = 24 * 3600.0


class CodeInterpreter:
    """Stateful code contexts in one sandbox (``sandbox.code_interpreter``).

    Variables, imports and definitions survive from one run_code to the next in a context.
    Without a context, run_code uses the language's default context (made on first use).
    """

    def __init__(self, rpc: SyncRpc, channel: grpc.Channel, metadata: Any) -> None:
        self._rpc = rpc
        self._stub = interpreter_service_pb2_grpc.InterpreterServiceStub(channel)
        self._metadata = metadata

    def _unary(self, method: Any, request: Any, *, idempotent: bool) -> Any:
        return self._rpc.unary(method, request, self._metadata, idempotent=idempotent)

    def create_context(
        self, language: str = "python", cwd: Optional[str] = None, env: Optional[Mapping[str, str]] = None
    ) -> CodeContext:
        """Starts a new context (a fresh kernel) in cwd (default the user's home)."""
        request = ip.create_context_request(language, cwd, env)
        return ip.code_context(self._unary(self._stub.CreateContext, request, idempotent=False).context)

    def list_contexts(self) -> list[CodeContext]:
        """Every context, oldest first."""
        res = self._unary(self._stub.ListContexts, pb.ListContextsRequest(), idempotent=True)
        return [ip.code_context(c) for c in res.contexts]

    def delete_context(self, context: ContextRef) -> None:
        """Stops a context's kernel and forgets it."""
        request = pb.DeleteContextRequest(context_id=ip.context_id(context))
        self._unary(self._stub.DeleteContext, request, idempotent=False)

    def restart_context(self, context: ContextRef) -> CodeContext:
        """Replaces a context's kernel with a fresh one (same id, state lost)."""
        request = pb.RestartContextRequest(context_id=ip.context_id(context))
        return ip.code_context(self._unary(self._stub.RestartContext, request, idempotent=False).context)

    def interrupt(self, context: ContextRef) -> None:
        """Interrupts the context's running execution (KeyboardInterrupt); idle is fine."""
        request = pb.InterruptContextRequest(context_id=ip.context_id(context))
        self._unary(self._stub.InterruptContext, request, idempotent=True)

    def run_code(
        self,
        code: str,
        context: Optional[ContextRef] = None,
        *,
        language: Optional[str] = None,
        env: Optional[Mapping[str, str]] = None,
        timeout: Optional[float] = None,
        on_stdout: Optional[Callable[[str], Any]] = None,
        on_stderr: Optional[Callable[[str], Any]] = None,
        on_result: Optional[Callable[[ExecutionResult], Any]] = None,
        on_error: Optional[Callable[[ExecutionError], Any]] = None,
    ) -> Execution:
        """Runs code in a context and returns once it ended.

        An exception in the code is ``execution.error``, not a raise; CoveError is raised only
        when the code could not run (unknown context, ...). timeout (s) interrupts the execution
        and keeps the context. Callbacks run in the calling thread as events arrive.
        """
        request = ip.run_code_request(code, context, language, env, timeout)
        deadline = timeout + DEADLINE_MARGIN_S if timeout else RUN_CODE_DEADLINE_S
        builder = ip.ExecutionBuilder(on_stdout, on_stderr, on_result, on_error)

        def on_message(message: pb.RunCodeResponse) -> bool:
            deliver = builder.add(message.event)
            if deliver is not None:
                deliver[0](deliver[1])
            return message.event.WhichOneof("event") == "end"

        pump = StreamPump(
            lambda _first: self._stub.RunCode(request, metadata=self._metadata, timeout=deadline),
            on_message,
            resumable=lambda: False,  # a re-sent RunCode would run the code twice
            backoff=self._rpc.backoff,
        )
        pump.run()
        return builder.build()
