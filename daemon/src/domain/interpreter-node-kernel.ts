import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { failedPrecondition } from "@cove/common";
import { findOnPath } from "./code-runner.js";
import { KernelProcess, type KernelSpec } from "./interpreter-kernel.js";
import type { ProcessManager } from "./process-manager.js";

/**
 * NODE_KERNEL_SOURCE is the kernel each JavaScript and TypeScript context runs with the image's
 * node (argv: language, path of the image's typescript package). It speaks the Python kernel's
 * protocol (one JSON request per line, one JSON message per line back) on fds 3 (requests) and
 * 4 (messages), which the daemon's shell wrapper sets up; fd 0 is /dev/null and fd 1 goes to
 * stderr, so child processes never write into the protocol.
 *
 * Each cell is parsed and transpiled with the image's TypeScript (types erased for TypeScript,
 * nothing else changed for JavaScript), then rewritten so that it behaves like a notebook
 * cell: top-level let/const/class/function/import declarations become globals that later cells
 * see and may declare again, static imports and import() resolve from the working directory,
 * a cell with top-level await runs as an async function, and the value of a final expression
 * statement is the cell's result. Cells run with vm's breakOnSigint, so SIGINT stops a
 * synchronous loop; while a cell awaits, SIGINT abandons it. Errors are reported with their
 * stack mapped back to the cell's own lines.
 */
export const NODE_KERNEL_SOURCE = String.raw`"use strict";
const fs = require("node:fs");
const net = require("node:net");
const path = require("node:path");
const util = require("node:util");
const vm = require("node:vm");
const Module = require("node:module");
const { pathToFileURL } = require("node:url");

const LANGUAGE = process.argv[2] === "typescript" ? "typescript" : "javascript";
const ts = require(process.argv[3]);
const KERNEL_FILE = __filename;
const OUT_FD = 4;
const DISPLAY = Symbol.for("Jupyter.display");
const MAX_MAPS = 500;

const state = { running: false, settle: undefined, last: undefined, hasLast: false };
const maps = new Map();

function writeAll(data) {
  let offset = 0;
  while (offset < data.length) {
    try {
      offset += fs.writeSync(OUT_FD, data, offset, data.length - offset);
    } catch (err) {
      if (err.code !== "EAGAIN") throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
  }
}

function emit(msg) {
  writeAll(Buffer.from(JSON.stringify(msg) + "\n", "utf8"));
}

// Output: process.stdout/stderr writes (and so console.*) become protocol messages.
for (const [stream, kind] of [[process.stdout, "stdout"], [process.stderr, "stderr"]]) {
  const decoder = new util.TextDecoder("utf-8");
  stream.write = function (chunk, encoding, callback) {
    if (typeof encoding === "function") callback = encoding;
    const text = typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true });
    if (text) emit({ type: kind, text });
    if (typeof callback === "function") process.nextTick(callback);
    return true;
  };
}

// Rich values ------------------------------------------------------------------------------

function displayable(bundle) {
  return { [DISPLAY]: () => bundle, [util.inspect.custom]: () => bundle["text/plain"] || "[display]" };
}

function bytesOf(data) {
  if (typeof data === "string") return Buffer.from(data, "base64");
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError("expected bytes (a Uint8Array, Buffer or ArrayBuffer) or base64 text");
}

function bundleOf(value) {
  const text = {};
  const binary = {};
  text["text/plain"] = typeof value === "string" ? util.inspect(value) : util.inspect(value, { depth: 4, maxArrayLength: 100, breakLength: 100 });
  if (value !== null && (typeof value === "object" || typeof value === "function") && typeof value[DISPLAY] === "function") {
    let data;
    try { data = value[DISPLAY](); } catch (err) { data = undefined; }
    for (const [mime, item] of Object.entries(data || {})) {
      if (item === undefined || item === null) continue;
      if (typeof item === "string" && !(mime.startsWith("image/") && mime !== "image/svg+xml") && mime !== "application/pdf") text[mime] = item;
      else if (typeof item === "string" || item instanceof ArrayBuffer || ArrayBuffer.isView(item)) binary[mime] = bytesOf(item).toString("base64");
      else text[mime] = JSON.stringify(item);
    }
  } else if (value !== null && typeof value === "object" && (Array.isArray(value) || Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null)) {
    try {
      const json = JSON.stringify(value);
      if (json !== undefined && json.length <= 1024 * 1024) text["application/json"] = json;
    } catch (err) {
      // cycles, BigInt: text/plain only
    }
  }
  return { text, binary };
}

function show(value, main) {
  const { text, binary } = bundleOf(value);
  emit({ type: "result", main, text, binary });
}

function display(...values) {
  for (const value of values) show(value, false);
}
display.html = (html) => displayable({ "text/plain": "[HTML]", "text/html": String(html) });
display.markdown = (md) => displayable({ "text/plain": String(md), "text/markdown": String(md) });
display.svg = (svg) => displayable({ "text/plain": "[SVG]", "image/svg+xml": String(svg) });
display.latex = (tex) => displayable({ "text/plain": String(tex), "text/latex": String(tex) });
display.json = (value) => displayable({ "text/plain": util.inspect(value, { depth: 4 }), "application/json": JSON.stringify(value) });
display.png = (bytes) => displayable({ "text/plain": "[PNG image]", "image/png": bytesOf(bytes) });
display.jpeg = (bytes) => displayable({ "text/plain": "[JPEG image]", "image/jpeg": bytesOf(bytes) });

function requireFromCwd() {
  return Module.createRequire(path.join(process.cwd(), "[cell]"));
}

async function importFromCwd(specifier) {
  const spec = String(specifier);
  if (Module.isBuiltin && Module.isBuiltin(spec)) return import(spec);
  if (spec.startsWith("file:") || spec.startsWith("data:")) return import(spec);
  if (spec.startsWith(".") || path.isAbsolute(spec)) return import(pathToFileURL(path.resolve(process.cwd(), spec)).href);
  let resolved;
  try {
    resolved = requireFromCwd().resolve(spec);
  } catch (err) {
    return import(spec);
  }
  return import(Module.isBuiltin && Module.isBuiltin(resolved) ? resolved : pathToFileURL(resolved).href);
}

const kernel = {
  import: importFromCwd,
  last(value) { state.last = value; state.hasLast = true; },
  started() { emit({ type: "started" }); },
};
Object.defineProperty(globalThis, "__cove", { value: kernel, enumerable: false });
Object.defineProperty(globalThis, "display", { value: display, enumerable: false, writable: true, configurable: true });
Object.defineProperty(globalThis, "require", { get: requireFromCwd, set(v) { Object.defineProperty(globalThis, "require", { value: v, writable: true, configurable: true }); }, enumerable: false, configurable: true });

// Cell transformation ----------------------------------------------------------------------

const FUNCTION_LIKE = new Set([
  ts.SyntaxKind.FunctionDeclaration, ts.SyntaxKind.FunctionExpression, ts.SyntaxKind.ArrowFunction,
  ts.SyntaxKind.MethodDeclaration, ts.SyntaxKind.Constructor, ts.SyntaxKind.GetAccessor,
  ts.SyntaxKind.SetAccessor, ts.SyntaxKind.ClassStaticBlockDeclaration,
]);

function hasTopLevelAwait(node) {
  if (ts.isAwaitExpression(node)) return true;
  if (ts.isForOfStatement(node) && node.awaitModifier) return true;
  if (FUNCTION_LIKE.has(node.kind)) return false;
  return ts.forEachChild(node, hasTopLevelAwait) === true;
}

function boundNames(name, out) {
  if (ts.isIdentifier(name)) out.push(name.text);
  else for (const el of name.elements) if (!ts.isOmittedExpression(el)) boundNames(el.name, out);
  return out;
}

function cellTransformer(info) {
  return (context) => {
    const f = context.factory;
    const api = (member) => f.createPropertyAccessExpression(f.createIdentifier("__cove"), member);
    const callApi = (member, args) => f.createCallExpression(api(member), undefined, args);
    const assign = (target, value) => f.createExpressionStatement(f.createParenthesizedExpression(f.createAssignment(target, value)));

    function target(name) {
      if (ts.isIdentifier(name)) return f.createIdentifier(name.text);
      if (ts.isObjectBindingPattern(name)) {
        return f.createObjectLiteralExpression(name.elements.map((el) => {
          if (el.dotDotDotToken) return f.createSpreadAssignment(target(el.name));
          if (!el.propertyName && ts.isIdentifier(el.name)) return f.createShorthandPropertyAssignment(f.createIdentifier(el.name.text), el.initializer);
          const value = el.initializer ? f.createAssignment(target(el.name), el.initializer) : target(el.name);
          return f.createPropertyAssignment(el.propertyName || f.createIdentifier(el.name.text), value);
        }));
      }
      return f.createArrayLiteralExpression(name.elements.map((el) => {
        if (ts.isOmittedExpression(el)) return f.createOmittedExpression();
        if (el.dotDotDotToken) return f.createSpreadElement(target(el.name));
        return el.initializer ? f.createAssignment(target(el.name), el.initializer) : target(el.name);
      }));
    }

    // import() anywhere resolves from the working directory.
    function rewriteImports(node) {
      if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
        return f.createCallExpression(api("import"), undefined, node.arguments.map((a) => ts.visitNode(a, rewriteImports)));
      }
      return ts.visitEachChild(node, rewriteImports, context);
    }

    const withoutExport = (mods) => mods && mods.filter((m) => m.kind !== ts.SyntaxKind.ExportKeyword && m.kind !== ts.SyntaxKind.DefaultKeyword && m.kind !== ts.SyntaxKind.DeclareKeyword);

    return (file) => {
      const names = [];
      const hoisted = [];
      const body = [];
      const isAsync = file.statements.some((s) => ts.isImportDeclaration(s) || hasTopLevelAwait(s));
      const statements = file.statements;
      let lastExpression = -1;
      for (let i = statements.length - 1; i >= 0; i--) {
        const s = statements[i];
        if (ts.isEmptyStatement(s)) continue;
        if (ts.isExpressionStatement(s)) lastExpression = i;
        break;
      }
      statements.forEach((original, index) => {
        const s = ts.visitNode(original, rewriteImports);
        const keep = (node) => body.push(ts.setTextRange(node, original));
        if (ts.isVariableStatement(s)) {
          for (const decl of s.declarationList.declarations) {
            boundNames(decl.name, names);
            const isLet = (s.declarationList.flags & (ts.NodeFlags.Let | ts.NodeFlags.Const)) !== 0;
            if (decl.initializer) keep(assign(target(decl.name), decl.initializer));
            else if (isLet) for (const n of boundNames(decl.name, [])) keep(assign(f.createIdentifier(n), f.createVoidZero()));
          }
        } else if (ts.isFunctionDeclaration(s)) {
          const fn = f.createFunctionExpression(s.modifiers && s.modifiers.filter((m) => m.kind === ts.SyntaxKind.AsyncKeyword), s.asteriskToken, s.name, undefined, s.parameters, undefined, s.body);
          if (!s.name) keep(f.createExpressionStatement(fn));
          else if (isAsync) { names.push(s.name.text); hoisted.push(ts.setTextRange(assign(f.createIdentifier(s.name.text), fn), original)); }
          else keep(f.updateFunctionDeclaration(s, withoutExport(s.modifiers), s.asteriskToken, s.name, s.typeParameters, s.parameters, s.type, s.body));
        } else if (ts.isClassDeclaration(s)) {
          const cls = f.createClassExpression(withoutExport(s.modifiers), s.name, undefined, s.heritageClauses, s.members);
          if (s.name) { names.push(s.name.text); keep(assign(f.createIdentifier(s.name.text), cls)); }
          else keep(f.createExpressionStatement(cls));
        } else if (ts.isImportDeclaration(s)) {
          const load = () => f.createAwaitExpression(callApi("import", [s.moduleSpecifier]));
          const clause = s.importClause;
          if (!clause) { keep(f.createExpressionStatement(load())); return; }
          const bindings = clause.namedBindings;
          if (bindings && ts.isNamespaceImport(bindings)) {
            names.push(bindings.name.text);
            keep(assign(f.createIdentifier(bindings.name.text), load()));
            if (clause.name) { names.push(clause.name.text); keep(assign(f.createIdentifier(clause.name.text), f.createPropertyAccessExpression(f.createIdentifier(bindings.name.text), "default"))); }
            return;
          }
          const props = [];
          if (clause.name) { names.push(clause.name.text); props.push(f.createPropertyAssignment("default", f.createIdentifier(clause.name.text))); }
          for (const el of (bindings && bindings.elements) || []) {
            if (el.isTypeOnly) continue;
            names.push(el.name.text);
            props.push(f.createPropertyAssignment(el.propertyName ? el.propertyName : f.createIdentifier(el.name.text), f.createIdentifier(el.name.text)));
          }
          keep(props.length ? assign(f.createObjectLiteralExpression(props), load()) : f.createExpressionStatement(load()));
        } else if (ts.isExportDeclaration(s)) {
          // export { a } / export * from "m": nothing to do in a notebook.
        } else if (ts.isExportAssignment(s)) {
          keep(f.createExpressionStatement(s.expression));
        } else if (index === lastExpression && ts.isExpressionStatement(s)) {
          keep(f.createExpressionStatement(callApi("last", [s.expression])));
        } else {
          keep(s);
        }
      });
      const out = [];
      const unique = [...new Set(names)];
      if (unique.length) out.push(f.createVariableStatement(undefined, f.createVariableDeclarationList(unique.map((n) => f.createVariableDeclaration(n)), ts.NodeFlags.None)));
      // Said from inside the cell, where SIGINT already interrupts it.
      out.push(f.createExpressionStatement(callApi("started", [])));
      if (isAsync) {
        const arrow = f.createArrowFunction([f.createModifier(ts.SyntaxKind.AsyncKeyword)], undefined, [], undefined, undefined, f.createBlock([...hoisted, ...body], true));
        out.push(f.createExpressionStatement(f.createCallExpression(f.createParenthesizedExpression(arrow), undefined, [])));
      } else {
        out.push(...body);
      }
      info.isAsync = isAsync;
      return f.updateSourceFile(file, out);
    };
  };
}

// Source maps: generated line/column back to the cell's own.

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

function decodeMappings(mappings) {
  const lines = [];
  let srcLine = 0;
  let srcCol = 0;
  for (const line of mappings.split(";")) {
    const segments = [];
    let genCol = 0;
    for (const seg of line.split(",")) {
      if (!seg) continue;
      const values = [];
      let value = 0;
      let shift = 0;
      for (const ch of seg) {
        const digit = B64.indexOf(ch);
        value += (digit & 31) << shift;
        if (digit & 32) { shift += 5; continue; }
        values.push(value & 1 ? -(value >>> 1) : value >>> 1);
        value = 0;
        shift = 0;
      }
      genCol += values[0] || 0;
      if (values.length >= 4) {
        srcLine += values[2];
        srcCol += values[3];
        segments.push([genCol, srcLine, srcCol]);
      }
    }
    lines.push(segments);
  }
  return lines;
}

function mapPosition(n, line, column) {
  const lines = maps.get(n);
  if (!lines) return undefined;
  const segments = lines[line - 1];
  if (!segments || segments.length === 0) return undefined;
  let best = segments[0];
  for (const seg of segments) if (seg[0] <= column - 1) best = seg;
  return [best[1] + 1, best[0] <= column - 1 ? best[2] + 1 + (column - 1 - best[0]) : best[2] + 1];
}

function cleanStack(stack) {
  const out = [];
  for (const line of String(stack).split("\n")) {
    if (/^\s+at /.test(line) && (line.includes(KERNEL_FILE) || /\(node:|at node:/.test(line))) continue;
    out.push(line.replace(/<cell-(\d+)>:(\d+):(\d+)/g, (all, n, l, c) => {
      const mapped = mapPosition(Number(n), Number(l), Number(c));
      return mapped ? "<cell-" + n + ">:" + mapped[0] + ":" + mapped[1] : all;
    }));
  }
  return out.join("\n");
}

function reportError(err) {
  if (err instanceof Error || (err && typeof err === "object" && "stack" in err && "message" in err)) {
    const interrupted = err.code === "ERR_SCRIPT_EXECUTION_INTERRUPTED";
    emit({
      type: "error",
      name: interrupted ? "KeyboardInterrupt" : String(err.name || "Error"),
      value: interrupted ? "execution interrupted" : String(err.message),
      traceback: interrupted ? "KeyboardInterrupt: execution interrupted" : cleanStack(err.stack),
    });
    return;
  }
  const text = util.inspect(err);
  emit({ type: "error", name: "Error", value: text, traceback: "Uncaught " + text });
}

function compile(code, n) {
  const fileName = "cell-" + n + (LANGUAGE === "typescript" ? ".ts" : ".js");
  const info = { isAsync: false };
  const out = ts.transpileModule(code, {
    fileName,
    reportDiagnostics: true,
    compilerOptions: {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      sourceMap: true,
      verbatimModuleSyntax: true,
      isolatedModules: true,
      useDefineForClassFields: true,
      jsx: ts.JsxEmit.Preserve,
    },
    transformers: { after: [cellTransformer(info)] },
  });
  const errors = (out.diagnostics || []).filter((d) => d.category === ts.DiagnosticCategory.Error);
  if (errors.length) {
    const d = errors[0];
    const message = ts.flattenDiagnosticMessageText(d.messageText, "\n");
    const where = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : { line: 0, character: 0 };
    const source = code.split("\n")[where.line] || "";
    const traceback = "<cell-" + n + ">:" + (where.line + 1) + ":" + (where.character + 1) + "\n" + source + "\n" + " ".repeat(where.character) + "^\n\nSyntaxError: " + message;
    return { error: { name: "SyntaxError", value: message, traceback } };
  }
  const js = out.outputText.replace(/\n\/\/# sourceMappingURL=.*\s*$/, "\n");
  if (out.sourceMapText) {
    maps.set(n, decodeMappings(JSON.parse(out.sourceMapText).mappings));
    if (maps.size > MAX_MAPS) maps.delete(maps.keys().next().value);
  }
  return { js, isAsync: info.isAsync };
}

// Running cells ----------------------------------------------------------------------------

function onInterrupt() {
  // Only reached while a cell awaits (breakOnSigint covers the synchronous part).
  if (state.settle) state.settle({ interrupted: true });
}

process.on("SIGINT", onInterrupt);
process.on("uncaughtException", (err) => {
  process.stderr.write("Uncaught " + cleanStack(err && err.stack ? err.stack : util.inspect(err)) + "\n");
});
process.on("unhandledRejection", (reason) => {
  process.stderr.write("Uncaught (in promise) " + cleanStack(reason && reason.stack ? reason.stack : util.inspect(reason)) + "\n");
});

async function run(req) {
  const n = req.n || 0;
  const env = req.env || {};
  const saved = {};
  for (const key of Object.keys(env)) saved[key] = process.env[key];
  try {
    Object.assign(process.env, env);
    const compiled = compile(req.code || "", n);
    if (compiled.error) { emit(Object.assign({ type: "error" }, compiled.error)); return; }
    let script;
    try {
      script = new vm.Script(compiled.js, { filename: "<cell-" + n + ">" });
    } catch (err) {
      reportError(err);
      return;
    }
    state.last = undefined;
    state.hasLast = false;
    state.running = true;
    let completion = script.runInThisContext({ breakOnSigint: true, displayErrors: false });
    if (compiled.isAsync) {
      const outcome = await new Promise((resolve) => {
        state.settle = resolve;
        Promise.resolve(completion).then(() => resolve({}), (error) => resolve({ error }));
      });
      state.settle = undefined;
      if (outcome.interrupted) {
        emit({ type: "error", name: "KeyboardInterrupt", value: "execution interrupted", traceback: "KeyboardInterrupt: execution interrupted (the cell's pending work may still run)" });
        return;
      }
      if (outcome.error !== undefined) { reportError(outcome.error); return; }
    }
    completion = undefined;
    if (state.hasLast && state.last !== undefined) show(state.last, true);
  } catch (err) {
    reportError(err);
  } finally {
    state.running = false;
    state.last = undefined;
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

const input = new net.Socket({ fd: 3, readable: true, writable: false });
let pending = "";
let queue = Promise.resolve();
input.setEncoding("utf8");
input.on("data", (chunk) => {
  pending += chunk;
  for (let nl = pending.indexOf("\n"); nl >= 0; nl = pending.indexOf("\n")) {
    const line = pending.slice(0, nl);
    pending = pending.slice(nl + 1);
    let req;
    try { req = JSON.parse(line); } catch (err) { continue; }
    queue = queue.then(() => run(req)).then(() => emit({ type: "done" }));
  }
});
input.on("end", () => queue.then(() => process.exit(0)));
emit({ type: "ready" });
`;

/** Where the image's typescript package may be when `tsc` is not on PATH. */
const TYPESCRIPT_FALLBACKS = [
  "/usr/local/lib/node_modules/typescript",
  "/usr/lib/node_modules/typescript",
];

/** findTypescript returns the directory of the image's typescript package, or undefined. */
export function findTypescript(pathVar: string | undefined): string | undefined {
  const candidates: string[] = [];
  const tsc = findOnPath("tsc", pathVar);
  if (tsc) {
    try {
      candidates.push(path.dirname(path.dirname(fs.realpathSync(tsc))));
    } catch {
      // a dangling link: try the usual places
    }
  }
  candidates.push(...TYPESCRIPT_FALLBACKS);
  return candidates.find((dir) => fs.existsSync(path.join(dir, "lib", "typescript.js")));
}

/**
 * startNodeKernel writes the Node kernel to a private temp folder (owned by the user) and
 * starts it with the image's node through /bin/sh, which moves the protocol to fds 3 and 4.
 * FAILED_PRECONDITION (RUNTIME_NOT_INSTALLED) when the image has no node, no typescript
 * package or no /bin/sh.
 */
export async function startNodeKernel(
  processes: ProcessManager,
  language: "javascript" | "typescript",
  spec: KernelSpec,
): Promise<KernelProcess> {
  const env = { ...processes.baseEnv(spec.user), ...spec.env };
  const need = (runtime: string, how: string) =>
    failedPrecondition(
      "RUNTIME_NOT_INSTALLED",
      `${language} contexts need ${how}, which is not installed in this sandbox's image`,
      { runtime, language },
    );
  const node = findOnPath("node", env.PATH);
  if (!node) throw need("node", "node");
  const typescript = findTypescript(env.PATH);
  if (!typescript) throw need("typescript", "the typescript package (npm i -g typescript)");
  if (!fs.existsSync("/bin/sh")) throw need("sh", "/bin/sh");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cove-kernel-"));
  const file = path.join(dir, "kernel.cjs");
  const remove = () => fs.rmSync(dir, { recursive: true, force: true });
  try {
    fs.writeFileSync(file, NODE_KERNEL_SOURCE, { mode: 0o600 });
    if (spec.user) {
      fs.chownSync(dir, spec.user.uid, spec.user.gid);
      fs.chownSync(file, spec.user.uid, spec.user.gid);
    }
    const proc = await processes.start({
      program: {
        argv: [
          "/bin/sh",
          "-c",
          'exec "$0" "$@" 3<&0 4>&1 </dev/null 1>&2',
          node,
          file,
          language,
          typescript,
        ],
      },
      cwd: spec.cwd,
      env: spec.env,
      user: spec.user,
      tag: "",
      timeoutMs: undefined,
      openStdin: true,
      bufferBytes: spec.bufferBytes,
      retain: false,
    });
    const kernel = new KernelProcess(proc, remove, language);
    await kernel.waitReady();
    return kernel;
  } catch (err) {
    remove();
    throw err;
  }
}
