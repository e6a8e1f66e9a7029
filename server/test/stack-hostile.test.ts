// Hostile input against `npm start`'s own stack (scripts/all-in-one.ts, its supervisor and
// parts, the runner talking to Docker through a recording proxy):
//
// - the exact CreateSandbox inputs that used to end the whole process (`img;id`, `UPPER/Case`,
//   path segments that made the engine answer 301 and the client chase a host named `etc`)
//   are INVALID_ARGUMENT with a field violation, and the stack keeps answering;
// - a second `npm start` with the same data folder says Cove is already running;
// - a seeded, bounded fuzz of SandboxService, FilesystemService and ProcessService requests
//   generated from the descriptors (binary gRPC and Connect JSON, with unknown fields and enum
//   names): every answer is a clean error or a success, no part is restarted, and the engine
//   never sees a request whose URL carries any of the fuzzed strings.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  type DescMessage,
  type DescMethod,
  type DescService,
  toJsonString,
} from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { SandboxService } from "@cove/gen-ts/cove/sandbox/v1/sandbox_service_pb.js";
import { FilesystemService } from "@cove/gen-ts/cove/toolbox/v1/filesystem_service_pb.js";
import { ProcessService } from "@cove/gen-ts/cove/toolbox/v1/process_service_pb.js";
import { BadRequestSchema } from "@cove/gen-ts/google/rpc/error_details_pb.js";
import { type AllInOneStack, startAllInOne } from "../../test/all-in-one-stack.js";
import { type DockerRecorder, startDockerRecorder } from "../../test/docker-recorder.js";
import { describeMessage, FUZZ_MARKER, fuzzMessage, Rng } from "../../test/request-fuzzer.js";
import { describeWithDocker } from "./stack-helpers.js";

/** The inputs of the original report. */
const CRASHING_IMAGES = ["img;id", "UPPER/Case", "../../etc/passwd", "a/../../b", "%2e%2e/x"];
/** Requests per fuzz run, and the seed (fixed: a failure reproduces). */
const FUZZ_REQUESTS = Number(process.env.COVE_FUZZ_REQUESTS ?? 1000);
const FUZZ_SEED = Number(process.env.COVE_FUZZ_SEED ?? 20_241_204);
/** Codes that say "a bug", never "a bad request". */
const BUG_CODES = new Set([Code.Internal, Code.Unknown, Code.DataLoss]);

const headers =
  (values: Record<string, string>): Interceptor =>
  (next) =>
  (req) => {
    for (const [k, v] of Object.entries(values)) req.header.set(k, v);
    return next(req);
  };

describeWithDocker("hostile input against npm start's stack", () => {
  let recorder: DockerRecorder;
  let stack: AllInOneStack;
  let target = ""; // the sandbox the toolbox fuzz is aimed at
  let witness = ""; // a sandbox nothing fuzzes, to show the stack still works

  const api = () =>
    createClient(
      SandboxService,
      createGrpcTransport({
        baseUrl: stack.apiUrl,
        interceptors: [headers({ authorization: `Bearer ${stack.adminKey}` })],
        defaultTimeoutMs: 30_000,
      }),
    );
  const toolbox = <S extends DescService>(service: S, sandboxId: string) =>
    createClient(
      service,
      createGrpcTransport({
        baseUrl: stack.proxyUrl,
        interceptors: [
          headers({ authorization: `Bearer ${stack.adminKey}`, "cove-sandbox-id": sandboxId }),
        ],
        defaultTimeoutMs: 20_000,
      }),
    );

  /** stillServing: the supervisor lives, no part was restarted, the API and a sandbox answer. */
  const expectStillServing = async () => {
    expect(stack.alive()).toBe(true);
    expect(stack.restarts()).toEqual([]);
    expect((await api().listSandboxes({})).sandboxes.length).toBeGreaterThan(0);
    const res = await toolbox(ProcessService, witness).exec({
      program: { case: "command", value: "echo still-here" },
    });
    expect(Buffer.from(res.stdout).toString()).toBe("still-here\n");
  };

  /** engineUrlsWith lists recorded engine URLs that contain `needle` (raw or decoded). */
  const engineUrlsWith = (needle: string) =>
    recorder.requests
      .map((r) => r.url)
      .filter((url) => {
        let decoded = url;
        try {
          decoded = decodeURIComponent(url);
        } catch {
          // not decodable: check it raw
        }
        return url.toLowerCase().includes(needle.toLowerCase()) || decoded.includes(needle);
      });

  beforeAll(async () => {
    recorder = await startDockerRecorder();
    stack = await startAllInOne({
      name: "hostile",
      env: {
        DOCKER_HOST: recorder.dockerHost,
        // The fuzz is one caller sending hundreds of calls: let them all reach the handlers.
        COVE_RATE_LIMIT_READS: "100000",
        COVE_RATE_LIMIT_WRITES: "100000",
      },
    });
    const [a, b] = await Promise.all([
      api().createSandbox({ labels: { suite: "hostile", role: "target" } }),
      api().createSandbox({ labels: { suite: "hostile", role: "witness" } }),
    ]);
    target = a.sandbox?.sandboxId ?? "";
    witness = b.sandbox?.sandboxId ?? "";
  }, 300_000);
  afterAll(async () => {
    await stack?.stop();
    await recorder?.close();
  }, 60_000);

  test("the inputs that ended the process are INVALID_ARGUMENT on image; the stack keeps answering", async () => {
    const engineBefore = recorder.requests.length;
    for (const image of CRASHING_IMAGES) {
      // As the SDKs send it (gRPC, binary)…
      const err = ConnectError.from(
        await api()
          .createSandbox({ source: { case: "image", value: image } })
          .catch((e) => e),
      );
      expect({ image, code: Code[err.code] }).toEqual({ image, code: "InvalidArgument" });
      expect(err.findDetails(BadRequestSchema)[0]?.fieldViolations[0]?.field).toBe("image");
      // …and as the report sent it (Connect JSON over HTTP/1.1, as curl does).
      const res = await fetch(`${stack.apiUrl}/cove.sandbox.v1.SandboxService/CreateSandbox`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${stack.adminKey}` },
        body: JSON.stringify({ image }),
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { code: string }).code).toBe("invalid_argument");
    }
    // Nothing about these names reached the engine, not even an image lookup.
    const images = recorder.requests.slice(engineBefore).filter((r) => r.url.includes("/images/"));
    expect(images).toEqual([]);
    for (const image of CRASHING_IMAGES) expect(engineUrlsWith(image)).toEqual([]);
    // No sandbox was left behind by any of them.
    const listed = await api().listSandboxes({});
    expect(listed.sandboxes.map((s) => s.image)).not.toEqual(
      expect.arrayContaining(CRASHING_IMAGES),
    );
    await expectStillServing();
  });

  test("a message over the 16 MiB cap is refused without harm", async () => {
    const big = { labels: { big: "x".repeat(17 * 1024 * 1024) } };
    // The Connect protocol gets the error itself…
    const connect = createClient(
      SandboxService,
      createConnectTransport({
        baseUrl: stack.apiUrl,
        httpVersion: "2",
        interceptors: [headers({ authorization: `Bearer ${stack.adminKey}` })],
      }),
    );
    const refused = ConnectError.from(
      await connect.createSandbox(big, { timeoutMs: 15_000 }).catch((e) => e),
    );
    expect(Code[refused.code]).toBe("ResourceExhausted");
    expect(refused.rawMessage).toContain("16777216");
    // …gRPC clients still sending when the server resets the stream may only see the reset.
    const grpc = await api()
      .createSandbox(big, { timeoutMs: 5_000 })
      .then(
        () => "OK",
        (err: unknown) => Code[ConnectError.from(err).code],
      );
    expect(grpc).not.toBe("OK");
    await expectStillServing();
  }, 60_000);

  test("a second npm start with the same data folder says Cove is already running", () => {
    const second = spawnSync(
      path.resolve(__dirname, "../../node_modules/.bin/tsx"),
      ["scripts/all-in-one.ts"],
      { cwd: path.resolve(__dirname, "../.."), env: stack.env, encoding: "utf8", timeout: 60_000 },
    );
    expect(second.status).toBe(1);
    expect(second.stderr).toContain("Cove is already running");
    expect(second.stderr).toContain(stack.apiUrl);
    expect(second.stderr).not.toContain("undefined");
  });

  test("fuzzed requests get clean answers, no part restarts, and no fuzzed string reaches the engine's URLs", async () => {
    const rng = new Rng(FUZZ_SEED);
    // Destructive calls never get the real sandboxes' ids; the others sometimes do.
    const safeId = new Set([
      "GetSandbox",
      "UpdateSandbox",
      "CreatePreviewUrl",
      "CreateSandboxToken",
      "CreateSshAccess",
    ]);
    const pool: { service: DescService; method: DescMethod; weight: number }[] = [];
    const add = (service: DescService, names: string[] | "all", weight: number) => {
      for (const method of service.methods) {
        if (method.methodKind !== "unary" && method.methodKind !== "server_streaming") continue;
        if (names !== "all" && !names.includes(method.name)) continue;
        pool.push({ service, method, weight });
      }
    };
    add(SandboxService, ["CreateSandbox"], 8);
    add(SandboxService, ["UpdateSandbox", "ListSandboxes"], 4);
    add(SandboxService, "all", 1);
    add(FilesystemService, "all", 2);
    add(ProcessService, ["Exec"], 4);
    add(ProcessService, "all", 1);
    const total = pool.reduce((n, p) => n + p.weight, 0);
    const choose = () => {
      let n = rng.int(total);
      for (const p of pool) {
        n -= p.weight;
        if (n < 0) return p;
      }
      return pool[0] as (typeof pool)[number];
    };

    interface Call {
      service: DescService;
      method: DescMethod;
      message: unknown;
      json?: string;
    }
    const calls: Call[] = [];
    for (let i = 0; i < FUZZ_REQUESTS; i++) {
      const { service, method } = choose();
      const known: Record<string, () => unknown> = {};
      if (service === SandboxService && safeId.has(method.name)) known.sandbox_id = () => target;
      // Most creates do not wait (a valid one would otherwise wait for its container).
      if (method.name === "CreateSandbox") known.wait = () => rng.chance(0.1);
      // Half the requests are mostly ordinary, so their one bad field is met deeper inside.
      const message = fuzzMessage(method.input, rng, {
        known,
        hostility: rng.chance(0.5) ? 1 : 0.15,
      });
      let json: string | undefined;
      let asJson: string | undefined;
      try {
        asJson = toJsonString(method.input as DescMessage, message as never);
      } catch {
        // JSON cannot spell some values (denormalized durations): send those in binary.
      }
      if (asJson !== undefined && rng.chance(0.3)) {
        const parsed = JSON.parse(asJson) as Record<string, unknown>;
        if (rng.chance(0.3)) parsed[`${FUZZ_MARKER}Field`] = 1;
        const enumField = (method.input as DescMessage).fields.find((f) => f.fieldKind === "enum");
        if (enumField && rng.chance(0.5))
          parsed[enumField.jsonName] = `${FUZZ_MARKER.toUpperCase()}_BOGUS`;
        json = JSON.stringify(parsed);
      }
      calls.push({ service, method, message, json });
    }

    const failures: string[] = [];
    const codes = new Map<string, number>();
    const count = (key: string) => codes.set(key, (codes.get(key) ?? 0) + 1);
    const run = async (call: Call) => {
      const { service, method } = call;
      const isToolbox = service !== SandboxService;
      const where = `${service.name}.${method.name}${call.json ? " (JSON)" : ""}`;
      if (call.json !== undefined) {
        const res = await fetch(
          `${isToolbox ? stack.proxyUrl : stack.apiUrl}/${service.typeName}/${method.name}`,
          {
            method: "POST",
            headers: {
              "content-type":
                method.methodKind === "unary" ? "application/json" : "application/connect+json",
              authorization: `Bearer ${stack.adminKey}`,
              "connect-timeout-ms": "5000",
              ...(isToolbox ? { "cove-sandbox-id": target } : {}),
            },
            body: method.methodKind === "unary" ? call.json : envelope(call.json),
            signal: AbortSignal.timeout(20_000),
          },
        ).catch((err: unknown) => err as Error);
        if (res instanceof Error) {
          failures.push(`${where}: transport error ${res.message}; ${call.json.slice(0, 300)}`);
          return;
        }
        const text = await res.text().catch(() => "");
        const code =
          res.status === 200
            ? connectStreamCode(text)
            : (JSON.parse(text || "{}") as { code?: string }).code;
        count(`${where}: ${code ?? res.status}`);
        if (
          code === "internal" ||
          code === "unknown" ||
          (res.status >= 500 && res.status !== 501 && res.status !== 503 && res.status !== 504)
        )
          failures.push(
            `${where}: HTTP ${res.status} ${text.slice(0, 300)}; ${call.json.slice(0, 300)}`,
          );
        return;
      }
      const client = (isToolbox ? toolbox(service, target) : api()) as unknown as Record<
        string,
        (m: unknown, o?: unknown) => unknown
      >;
      const fn = client[method.localName] as (m: unknown, o?: unknown) => unknown;
      try {
        if (method.methodKind === "server_streaming") {
          let n = 0;
          for await (const _ of fn(call.message, { timeoutMs: 5_000 }) as AsyncIterable<unknown>) {
            if (++n >= 50) break;
          }
        } else {
          await fn(call.message);
        }
        count(`${where}: OK`);
      } catch (err) {
        const e = ConnectError.from(err);
        count(`${where}: ${Code[e.code]}`);
        if (BUG_CODES.has(e.code))
          failures.push(
            `${where}: ${Code[e.code]} ${e.rawMessage.slice(0, 300)}; ${describeMessage(call.message)}`,
          );
      }
    };
    // Four at a time: enough to overlap, little enough for a shared two-core machine.
    const queue = [...calls];
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let call = queue.shift(); call; call = queue.shift()) await run(call);
      }),
    );
    if (process.env.COVE_FUZZ_REPORT === "1") console.log([...codes].sort().join("\n"));
    if (failures.length > 0 && process.env.COVE_FUZZ_LOGS) {
      // The fuzzed sandbox's daemon log (container logs) says why it answered INTERNAL.
      const logs = spawnSync("docker", ["logs", target], { encoding: "utf8" });
      fs.writeFileSync(process.env.COVE_FUZZ_LOGS, `${logs.stdout}\n${logs.stderr}`);
    }
    expect(failures).toEqual([]);
    // Nothing any request carried reached an engine URL.
    expect(engineUrlsWith(FUZZ_MARKER)).toEqual([]);
    await expectStillServing();
  }, 240_000);

  // Last: it restarts parts on purpose, which the tests above assert never happens by itself.
  test("a part that dies is restarted while the others keep serving", async () => {
    // Room on this runner for one more sandbox per round (the fuzz target is done with).
    await api().deleteSandbox({ sandboxId: target, wait: true });
    for (const part of ["runner", "proxy", "server"]) {
      const pid = stack.pidOf(part);
      expect(pid).toBeDefined();
      process.kill(pid as number, "SIGKILL");
      const until = Date.now() + 60_000;
      while (stack.pidOf(part) === pid) {
        if (Date.now() > until)
          throw new Error(`${part} was not restarted:\n${stack.log().slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(stack.alive()).toBe(true);
      // The whole path works again: API → runner → sandbox, and toolbox calls through the proxy.
      const exec = async () =>
        (
          await toolbox(ProcessService, witness).exec({
            program: { case: "command", value: `echo back-${part}` },
          })
        ).stdout;
      let out: Uint8Array | undefined;
      for (let i = 0; i < 100 && out === undefined; i++) {
        out = await exec().catch(() => undefined);
        if (out === undefined) await new Promise((r) => setTimeout(r, 300));
      }
      expect(Buffer.from(out ?? new Uint8Array()).toString()).toBe(`back-${part}\n`);
      const made = await api().createSandbox({ labels: { suite: "hostile", after: part } });
      expect(made.sandbox?.sandboxId).toMatch(/^[a-z0-9]{20}$/);
      await api().deleteSandbox({ sandboxId: made.sandbox?.sandboxId ?? "", wait: true });
    }
    expect(stack.restarts().sort()).toEqual(["proxy", "runner", "server"]);
  }, 240_000);
});

/** envelope frames one Connect streaming request message (flags 0, big-endian length). */
function envelope(json: string): Uint8Array {
  const body = new TextEncoder().encode(json);
  const out = new Uint8Array(5 + body.length);
  new DataView(out.buffer).setUint32(1, body.length);
  out.set(body, 5);
  return out;
}

/** connectStreamCode reads the end-of-stream error code of a Connect streaming response, if any. */
function connectStreamCode(text: string): string | undefined {
  const match = /"error":\{"code":"([a-z_]+)"/.exec(text);
  return match?.[1];
}
