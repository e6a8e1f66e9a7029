// InterpreterService in a real sandbox: JavaScript and TypeScript contexts run by the image's
// node as the sandbox user, and Python contexts drawing matplotlib charts, in a base-image
// container running the daemon from the kit.
import type { Client } from "@connectrpc/connect";
import { ChartType, type ExecutionEvent } from "@cove/gen-ts/cove/toolbox/v1/interpreter_pb.js";
import { InterpreterService } from "@cove/gen-ts/cove/toolbox/v1/interpreter_service_pb.js";
import { CodeLanguage } from "@cove/gen-ts/cove/toolbox/v1/language_pb.js";
import {
  dockerDescribe,
  type SandboxContainer,
  startSandboxContainer,
} from "./sandbox-container.js";

const seconds = (s: number) => ({
  seconds: BigInt(Math.floor(s)),
  nanos: Math.round((s % 1) * 1e9),
});

type Result = Extract<ExecutionEvent["event"], { case: "result" }>["value"];

async function gather(stream: AsyncIterable<{ event?: ExecutionEvent }>) {
  const out = {
    stdout: "",
    stderr: "",
    results: [] as Result[],
    error: undefined as undefined | { name: string; value: string; traceback: string },
    end: undefined as undefined | { executionCount: bigint; timedOut: boolean },
  };
  for await (const res of stream) {
    const event = res.event?.event;
    if (event?.case === "stdout") out.stdout += event.value.text;
    if (event?.case === "stderr") out.stderr += event.value.text;
    if (event?.case === "result") out.results.push(event.value);
    if (event?.case === "error") out.error = event.value;
    if (event?.case === "end") out.end = event.value;
  }
  return out;
}

const main = (res: { results: Result[] }) => res.results.find((r) => r.isMainResult);

dockerDescribe("InterpreterService")("InterpreterService in a base-image sandbox", () => {
  let sandbox: SandboxContainer;
  let client: Client<typeof InterpreterService>;

  beforeAll(async () => {
    sandbox = await startSandboxContainer();
    client = sandbox.client(InterpreterService);
  }, 300_000);
  afterAll(() => sandbox?.remove());

  const run = (
    contextId: string,
    code: string,
    extra: { timeout?: ReturnType<typeof seconds> } = {},
  ) => gather(client.runCode({ contextId, code, ...extra }));

  async function context(language: CodeLanguage) {
    const res = await client.createContext({ language });
    expect(res.context?.language).toBe(language);
    return res.context?.contextId ?? "";
  }

  describe("javascript", () => {
    let js = "";
    beforeAll(async () => {
      js = await context(CodeLanguage.JAVASCRIPT);
    }, 60_000);

    test("runs with the image's node as the sandbox user", async () => {
      const res = await run(
        js,
        "[process.version.split('.')[0], require('node:os').userInfo().username]",
      );
      expect(main(res)?.textData["text/plain"]).toBe("[ 'v18', 'cove' ]");
    });

    test("declarations survive between cells and may be declared again", async () => {
      await run(
        js,
        "const x = 41;\nlet list = [1];\nfunction twice(n) { return n * 2 }\nclass Box { constructor(v) { this.v = v } }",
      );
      const second = await run(js, "list.push(2);\nx + 1");
      expect(main(second)?.textData["text/plain"]).toBe("42");
      const again = await run(js, "const x = 'again';\n[x, list.length, twice(4), new Box(3).v]");
      expect(main(again)?.textData["text/plain"]).toBe("[ 'again', 2, 8, 3 ]");
      expect(again.error).toBeUndefined();
    });

    test("top-level await and imports (built-in and from the working directory)", async () => {
      await sandbox.sh("printf 'export const answer = 42;\\n' > ~/answer.mjs");
      const res = await run(
        js,
        [
          'import { readFile } from "node:fs/promises";',
          'import { answer } from "./answer.mjs";',
          'const host = (await readFile("/etc/hostname", "utf8")).trim();',
          "const late = await new Promise((resolve) => setTimeout(() => resolve(answer), 20));",
          "[host.length > 0, late]",
        ].join("\n"),
      );
      expect(res.error).toBeUndefined();
      expect(main(res)?.textData["text/plain"]).toBe("[ true, 42 ]");
      const later = await run(js, "typeof readFile + ' ' + late");
      expect(main(later)?.textData["text/plain"]).toBe("'function 42'");
    });

    test("console output streams as stdout and stderr", async () => {
      const res = await run(
        js,
        "console.log('hello', 1);\nconsole.error('oops');\nprocess.stdout.write('raw');",
      );
      expect(res.stdout).toBe("hello 1\nraw");
      expect(res.stderr).toBe("oops\n");
    });

    test("rich results: HTML, Markdown, SVG, PNG, JSON", async () => {
      const png = "iVBORw0KGgo=";
      const res = await run(
        js,
        [
          "display(display.html('<b>bold</b>'), display.svg('<svg/>'), display.png(Buffer.from('" +
            png +
            "', 'base64')));",
          "display(display.markdown('# Title'));",
          "({ a: 1, b: [true, null] })",
        ].join("\n"),
      );
      const [html, svg, image, markdown, value] = res.results;
      expect(html?.textData["text/html"]).toBe("<b>bold</b>");
      expect(svg?.textData["image/svg+xml"]).toBe("<svg/>");
      expect(Buffer.from(image?.binaryData["image/png"] ?? []).toString("base64")).toBe(png);
      expect(markdown?.textData["text/markdown"]).toBe("# Title");
      expect(value?.isMainResult).toBe(true);
      expect(JSON.parse(value?.textData["application/json"] ?? "null")).toEqual({
        a: 1,
        b: [true, null],
      });
      expect(res.results.filter((r) => r.isMainResult)).toHaveLength(1);
    });

    test("errors carry their stack at the cell's own lines; the context keeps working", async () => {
      const res = await run(
        js,
        "const kept = 'yes';\nfunction fail() {\n  throw new RangeError('too far');\n}\nfail();",
      );
      expect(res.error?.name).toBe("RangeError");
      expect(res.error?.value).toBe("too far");
      expect(res.error?.traceback).toMatch(/at fail \(<cell-\d+>:3:9\)/);
      expect(res.error?.traceback).not.toContain("kernel.cjs");
      const syntax = await run(js, "let = = 3;");
      expect(syntax.error?.name).toBe("SyntaxError");
      expect(main(await run(js, "kept"))?.textData["text/plain"]).toBe("'yes'");
    });

    test("InterruptContext stops a busy loop; a timeout interrupts and keeps the state", async () => {
      const pending = run(js, "while (true) {}");
      for (let i = 0; i < 100; i++) {
        const { contexts } = await client.listContexts({});
        if (contexts.find((c) => c.contextId === js)?.busy) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await client.interruptContext({ contextId: js });
      expect((await pending).error?.name).toBe("KeyboardInterrupt");
      const timed = await run(js, "let spins = 0;\nwhile (true) { spins++ }", {
        timeout: seconds(0.5),
      });
      expect(timed.error?.name).toBe("TimeoutError");
      expect(timed.end?.timedOut).toBe(true);
      const after = await run(js, "[x, spins > 0]");
      expect(main(after)?.textData["text/plain"]).toBe("[ 'again', true ]");
    });

    test("a timeout also stops a cell that awaits forever", async () => {
      const res = await run(js, "await new Promise(() => {});", { timeout: seconds(0.5) });
      expect(res.error?.name).toBe("TimeoutError");
      expect(main(await run(js, "1 + 1"))?.textData["text/plain"]).toBe("2");
    });

    test("a kernel that exits reports KernelDied and the next run starts empty", async () => {
      const died = await run(js, "process.exit(3)");
      expect(died.error?.name).toBe("KernelDied");
      const fresh = await run(js, "typeof x");
      expect(main(fresh)?.textData["text/plain"]).toBe("'undefined'");
      expect(fresh.end?.executionCount).toBe(1n);
    });
  });

  describe("typescript", () => {
    test("types are erased, enums and interfaces work, state survives, restart clears it", async () => {
      const ts = await context(CodeLanguage.TYPESCRIPT);
      const first = await run(
        ts,
        [
          "interface Point { x: number; y: number }",
          "enum Axis { X = 'x', Y = 'y' }",
          "const origin: Point = { x: 3, y: 4 };",
          "function norm(p: Point): number {",
          "  return Math.sqrt(p.x ** 2 + p.y ** 2);",
          "}",
          "norm(origin) as number",
        ].join("\n"),
      );
      expect(first.error).toBeUndefined();
      expect(main(first)?.textData["text/plain"]).toBe("5");
      const second = await run(ts, "const label: string = Axis.Y + norm({ x: 0, y: 2 });\nlabel");
      expect(main(second)?.textData["text/plain"]).toBe("'y2'");
      const thrown = await run(
        ts,
        "type T = number;\nconst n: T = 1;\nthrow new Error('at line ' + (n + 2));",
      );
      expect(thrown.error?.traceback).toMatch(/<cell-\d+>:3:/);
      await client.restartContext({ contextId: ts });
      const gone = await run(ts, "typeof origin");
      expect(main(gone)?.textData["text/plain"]).toBe("'undefined'");
      await client.deleteContext({ contextId: ts });
    });

    test("the default TypeScript context is made on first use", async () => {
      const res = await gather(
        client.runCode({
          language: CodeLanguage.TYPESCRIPT,
          code: "const answer: number = 6 * 7;\nanswer",
        }),
      );
      expect(main(res)?.textData["text/plain"]).toBe("42");
    });
  });

  describe("python charts", () => {
    let py = "";
    beforeAll(async () => {
      py = await context(CodeLanguage.PYTHON);
    }, 60_000);

    const figure = (res: { results: Result[] }) =>
      res.results.find((r) => r.binaryData["image/png"] !== undefined);

    test("a line chart arrives as a PNG with its title, axes and series", async () => {
      const res = await run(
        py,
        [
          "import matplotlib.pyplot as plt",
          "plt.plot([1, 2, 3], [2, 4, 8], label='growth')",
          "plt.title('Growth')",
          "plt.xlabel('day')",
          "plt.ylabel('users')",
          "plt.legend()",
          "plt.show()",
        ].join("\n"),
      );
      expect(res.error).toBeUndefined();
      const result = figure(res);
      expect(
        Buffer.from(result?.binaryData["image/png"] ?? [])
          .subarray(0, 4)
          .toString("latin1"),
      ).toBe("\x89PNG");
      expect(result?.textData["text/plain"]).toContain("Figure");
      const chart = result?.chart;
      expect(chart?.type).toBe(ChartType.LINE);
      expect(chart?.title).toBe("Growth");
      expect(chart?.xAxis?.label).toBe("day");
      expect(chart?.yAxis?.label).toBe("users");
      expect(chart?.yAxis?.scale).toBe("linear");
      expect(chart?.series.map((s) => [s.label, s.x, s.y])).toEqual([
        ["growth", [1, 2, 3], [2, 4, 8]],
      ]);
    });

    test("bar, scatter and pie charts drawn without show() arrive at the end of the run", async () => {
      const bar = figure(
        await run(
          py,
          "fig, ax = plt.subplots()\nax.bar(['red', 'blue'], [3, 5])\nax.set_title('Votes')",
        ),
      );
      expect(bar?.chart?.type).toBe(ChartType.BAR);
      expect(bar?.chart?.series[0]?.xLabels).toEqual(["red", "blue"]);
      expect(bar?.chart?.series[0]?.y).toEqual([3, 5]);
      const scatter = figure(await run(py, "plt.scatter([1, 2, 3], [9, 8, 7])"));
      expect(scatter?.chart?.type).toBe(ChartType.SCATTER);
      expect(scatter?.chart?.series[0]?.y).toEqual([9, 8, 7]);
      const pie = figure(await run(py, "plt.pie([1, 3], labels=['cats', 'dogs'])"));
      expect(pie?.chart?.type).toBe(ChartType.PIE);
      expect(pie?.chart?.series[0]?.xLabels).toEqual(["cats", "dogs"]);
      expect(pie?.chart?.series[0]?.y).toEqual([0.25, 0.75]);
      expect(pie?.chart?.xAxis).toBeUndefined();
    });

    test("dates are named in ISO 8601; a figure with two Axes has a PNG but no chart", async () => {
      const dated = figure(
        await run(
          py,
          "import pandas as pd\nplt.plot(pd.date_range('2024-03-01', periods=2), [1, 2])",
        ),
      );
      expect(dated?.chart?.series[0]?.xLabels).toEqual(["2024-03-01", "2024-03-02"]);
      const two = figure(
        await run(py, "fig, (a, b) = plt.subplots(1, 2)\na.plot([1])\nb.plot([2])"),
      );
      expect(two?.binaryData["image/png"]?.length).toBeGreaterThan(1000);
      expect(two?.chart).toBeUndefined();
    });

    test("figures are closed once shown, and a DataFrame is an HTML table", async () => {
      const res = await run(
        py,
        "import pandas as pd\nprint(len(plt.get_fignums()))\npd.DataFrame({'a': [1, 2]})",
      );
      expect(res.stdout).toBe("0\n");
      expect(main(res)?.textData["text/html"]).toContain("<table");
      expect(figure(res)).toBeUndefined();
    });
  });
});
