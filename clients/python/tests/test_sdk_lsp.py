"""sandbox.lsp / create_lsp_server and code_interpreter's JavaScript, TypeScript and chart support."""

from __future__ import annotations

import asyncio

import pytest

from cove_sdk import AsyncCove, CoveConflictError, CoveNotFoundError, Position, Sandbox

from .conftest import Stack

CALC = 'def add(a: int, b: int) -> int:\n    """Add two numbers."""\n    return a + b\n\n\nclass Greeter:\n    def greet(self) -> str:\n        return "hi"\n'
MAIN = "from calc import add, Greeter\n\ntotal: str = add(1, 2)\ng = Greeter()\ng.\n"


def test_python_language_server(sandbox: Sandbox) -> None:
    sandbox.fs.upload_file(CALC.encode(), "pyproj/calc.py")
    sandbox.fs.upload_file(MAIN.encode(), "pyproj/main.py")
    lsp = sandbox.create_lsp_server("python", "pyproj")
    with pytest.raises(CoveConflictError):
        lsp.did_open("main.py")
    info = lsp.start()
    assert (info.language_id, info.root_path) == ("python", "/home/cove/pyproj")
    assert lsp.id in [s.id for s in sandbox.lsp.list()]
    try:
        lsp.did_open("main.py")
        lsp.did_open("calc.py")
        assert "greet" in [i.label for i in lsp.completions("main.py", (4, 2)).items]
        hover = lsp.hover("main.py", Position(2, 14))
        assert "Add two numbers." in hover.contents and hover.markdown
        [definition] = lsp.definition("main.py", {"line": 2, "character": 14})
        assert (definition.path, definition.range.start.line) == ("/home/cove/pyproj/calc.py", 0)
        symbols = {s.name: s for s in lsp.document_symbols("calc.py")}
        assert symbols["greet"].container_name == "Greeter"
        assert symbols["Greeter"].location["uri"] == "file:///home/cove/pyproj/calc.py"
        assert "/home/cove/pyproj/calc.py" in [s.path for s in lsp.sandbox_symbols("Greeter")]
        report = lsp.diagnostics("main.py")
        assert report.current
        assert any(d.severity == "error" and "str" in d.message for d in report.diagnostics)
        lsp.did_change("main.py", "from calc import add\n\ntotal: int = add(1, 2)\n")
        assert [d for d in lsp.diagnostics("main.py").diagnostics if d.severity == "error"] == []
        raw = lsp.send_message(
            {
                "jsonrpc": "2.0",
                "id": 5,
                "method": "textDocument/documentSymbol",
                "params": {"textDocument": {"uri": "file:///home/cove/pyproj/calc.py"}},
            }
        )
        assert raw["id"] == 5 and len(raw["result"]) > 0
        lsp.did_close("main.py")
    finally:
        server_id = lsp.id
        lsp.stop()
    with pytest.raises(CoveNotFoundError) as caught:
        sandbox.lsp.get(server_id or "")
    assert caught.value.reason == "LSP_SERVER_NOT_FOUND"


def test_async_typescript_language_server(stack: Stack, sandbox: Sandbox) -> None:
    sandbox.fs.upload_file(b"export const twice = (n: number): number => n * 2;\n", "tsproj/lib.ts")
    sandbox.fs.upload_file(b'import { twice } from "./lib";\nconst s: string = twice(2);\n', "tsproj/app.ts")

    async def main() -> None:
        async with AsyncCove(**stack.client_kwargs()) as cove:
            box = await cove.get(sandbox.id)
            lsp = box.create_lsp_server("typescript", "/home/cove/tsproj")
            await lsp.start()
            try:
                await lsp.did_open("app.ts")
                report = await lsp.diagnostics("app.ts", wait=20)
                assert [d.code for d in report.diagnostics if d.severity == "error"] == ["2322"]
                [definition] = await lsp.definition("app.ts", (0, 10))
                assert definition.path == "/home/cove/tsproj/lib.ts"
                await lsp.did_open("lib.ts")
                names = [s.name for s in await lsp.document_symbols("/home/cove/tsproj/lib.ts")]
                assert "twice" in names
                attached = await box.lsp.get(lsp.id or "")
                assert attached.language_id == "typescript"
            finally:
                await lsp.stop()

    asyncio.run(main())


def test_code_interpreter_javascript_typescript_and_charts(stack: Stack, sandbox: Sandbox) -> None:
    ci = sandbox.code_interpreter
    js = ci.create_context(language="javascript")
    assert js.language == "javascript"
    ci.run_code("const base = 40;", js)
    run = ci.run_code("console.log('hi'); base + 2", js)
    assert (run.stdout, run.text) == ("hi\n", "42")
    assert ci.run_code("display.markdown('**b**')", js).results[0].markdown == "**b**"
    failed = ci.run_code("undefinedThing()", js)
    assert failed.error is not None and failed.error.name == "ReferenceError"
    ci.delete_context(js)
    assert ci.run_code("const n: number = await Promise.resolve(21);\nn * 2", language="typescript").text == "42"

    chart_run = ci.run_code(
        "import matplotlib.pyplot as plt\nplt.plot([0, 1, 2], [1, 4, 9], label='sq')\nplt.title('Squares')\nplt.xlabel('n')"
    )
    figure = next(r for r in chart_run.results if r.png is not None)
    assert figure.png.startswith(b"\x89PNG")
    chart = figure.chart
    assert chart is not None and (chart.type, chart.title) == ("line", "Squares")
    assert chart.x_axis is not None and chart.x_axis.label == "n"
    assert [(s.label, s.x, s.y) for s in chart.series] == [("sq", [0.0, 1.0, 2.0], [1.0, 4.0, 9.0])]

    async def pie() -> None:
        async with AsyncCove(**stack.client_kwargs()) as cove:
            aci = (await cove.get(sandbox.id)).code_interpreter
            res = await aci.run_code("import matplotlib.pyplot as plt\nplt.pie([1, 1], labels=['a', 'b'])")
            [drawn] = [r for r in res.results if r.chart is not None]
            assert drawn.chart is not None and drawn.chart.type == "pie"
            assert drawn.chart.series[0].x_labels == ["a", "b"] and drawn.chart.series[0].y == [0.5, 0.5]

    asyncio.run(pie())
