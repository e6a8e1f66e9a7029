import * as fs from "node:fs";
import * as path from "node:path";
import { invalidArgument, resourceExhausted } from "@cove/common";
import type { Filesystem } from "./filesystem.js";
import { errnoCode, fsError, notADirectory } from "./filesystem-errors.js";
import { walkSorted } from "./filesystem-walk.js";
import { writeAtomically } from "./filesystem-write.js";
import { compileGlob, type Glob } from "./glob.js";
import {
  escapeRegExp,
  MAX_TEXT_FILE_BYTES,
  TextWorker,
  TextWorkerTimeout,
  type WorkerMatch,
} from "./text-worker.js";

/** Longest FindInFiles pattern, in bytes. */
export const MAX_PATTERN_BYTES = 1024;
/** Default and largest number of results of FindInFiles / SearchFiles. */
export const DEFAULT_MAX_RESULTS = 1000;
/** Largest max_results. */
export const MAX_RESULTS = 10_000;
/** Default FindInFiles timeout. */
export const DEFAULT_FIND_TIMEOUT_MS = 30_000;
/** Largest FindInFiles timeout. */
export const MAX_FIND_TIMEOUT_MS = 5 * 60_000;
/** SearchFiles time limit. */
export const SEARCH_TIMEOUT_MS = 30_000;
/** Most files one ReplaceInFiles call may name. */
export const MAX_REPLACE_FILES = 1000;
/** Time budget of one ReplaceInFiles call; files not reached fail with INVALID_FIELD. */
export const REPLACE_TIMEOUT_MS = 60_000;
/** Files handed to the worker per message. */
const FIND_BATCH = 64;

/** A FindInFiles request in domain terms. */
export interface FindRequest {
  /** Directory or file to search. */
  path: string;
  /** Literal text or regular expression. */
  pattern: string;
  /** Treat pattern as a regular expression. */
  regex: boolean;
  /** Match case-insensitively. */
  ignoreCase: boolean;
  /** Only files whose relative path matches this glob; empty for all. */
  includeGlob: string;
  /** Most lines returned; 0 means the default. */
  maxResults: number;
  /** Time limit in ms; undefined means the default. */
  timeoutMs?: number;
}

/** One matching line. */
export interface FoundLine extends WorkerMatch {
  /** Absolute path of the file. */
  path: string;
}

/** ReplaceInFiles outcome for one file. */
export interface ReplaceFileResult {
  /** Absolute path (or the input when it could not be resolved). */
  path: string;
  /** Replacements made. */
  count: number;
  /** ErrorReason name on failure, empty on success. */
  errorReason: string;
  /** Human-readable failure, empty on success. */
  errorMessage: string;
}

function limitResults(n: number, field: string): number {
  if (n < 0) throw invalidArgument(field, "must not be negative");
  return n === 0 ? DEFAULT_MAX_RESULTS : Math.min(n, MAX_RESULTS);
}

/** compilePattern validates a pattern and returns the RegExp source for it (literal text escaped). */
function compilePattern(pattern: string, regex: boolean, flags: string): string {
  if (pattern === "") throw invalidArgument("pattern", "must not be empty");
  if (Buffer.byteLength(pattern) > MAX_PATTERN_BYTES) {
    throw invalidArgument("pattern", `must be at most ${MAX_PATTERN_BYTES} bytes`);
  }
  const source = regex ? pattern : escapeRegExp(pattern);
  try {
    new RegExp(source, flags);
  } catch (err) {
    throw invalidArgument(
      "pattern",
      `is not a valid regular expression: ${(err as Error).message}`,
    );
  }
  return source;
}

/**
 * findInFiles searches file contents under a directory (or in one file) line by line. The tree
 * is walked here in path order; reading and matching run on a worker thread that is terminated
 * at the deadline, so a catastrophic regular expression costs at most the timeout.
 */
export async function findInFiles(
  fsys: Filesystem,
  req: FindRequest,
): Promise<{ matches: FoundLine[]; incomplete: boolean }> {
  const root = fsys.resolve(req.path);
  const flags = req.ignoreCase ? "iu" : "u";
  const source = compilePattern(req.pattern, req.regex, flags);
  const max = limitResults(req.maxResults, "max_results");
  const timeoutMs = Math.min(req.timeoutMs ?? DEFAULT_FIND_TIMEOUT_MS, MAX_FIND_TIMEOUT_MS);
  if (timeoutMs < 0) throw invalidArgument("timeout", "must not be negative");
  const glob = req.includeGlob === "" ? undefined : compileGlob(req.includeGlob, "include_glob");
  const deadline = Date.now() + timeoutMs;

  let st: fs.Stats;
  try {
    st = await fs.promises.stat(root);
  } catch (err) {
    throw fsError(err, root);
  }
  const matches: FoundLine[] = [];
  const state = { timedOut: false };
  if (!(await fsys.textWorkers.acquire(deadline))) return { matches, incomplete: true };
  const worker = new TextWorker();
  try {
    const searchBatch = async (files: string[]) => {
      await worker.find(
        { source, flags, files, remaining: max + 1 - matches.length },
        deadline,
        (file, found) => {
          for (const m of found) matches.push({ path: file, ...m });
        },
      );
    };
    if (!st.isDirectory()) {
      if (!glob || glob.matches(path.basename(root))) await searchBatch([root]);
    } else {
      let batch: string[] = [];
      const walk = walkSorted(
        root,
        {
          maxDepth: Number.POSITIVE_INFINITY,
          deadline,
          descend: (rel) => !glob || glob.mayMatchUnder(rel),
        },
        state,
      );
      for await (const entry of walk) {
        if (entry.type !== "file" || (glob && !glob.matches(entry.rel))) continue;
        batch.push(entry.path);
        if (batch.length === FIND_BATCH) {
          await searchBatch(batch);
          batch = [];
          if (matches.length > max) break;
        }
      }
      if (batch.length > 0 && matches.length <= max && !state.timedOut) await searchBatch(batch);
    }
  } catch (err) {
    if (err instanceof TextWorkerTimeout) state.timedOut = true;
    else throw fsError(err, root);
  } finally {
    await worker.close();
    fsys.textWorkers.release();
  }
  const incomplete = state.timedOut || matches.length > max;
  return { matches: matches.slice(0, max), incomplete };
}

/**
 * searchFiles finds entries whose path relative to the root matches a glob, in path order,
 * skipping directories the glob cannot match under and never descending symlinks.
 */
export async function searchFiles(
  fsys: Filesystem,
  input: string,
  globText: string,
  maxResults: number,
): Promise<{ paths: string[]; incomplete: boolean }> {
  const root = fsys.resolve(input);
  const glob: Glob = compileGlob(globText, "glob");
  const max = limitResults(maxResults, "max_results");
  await fsys.requireDirectory(root);
  const state = { timedOut: false };
  const paths: string[] = [];
  try {
    const walk = walkSorted(
      root,
      {
        maxDepth: Number.POSITIVE_INFINITY,
        deadline: Date.now() + SEARCH_TIMEOUT_MS,
        descend: (rel) => glob.mayMatchUnder(rel),
      },
      state,
    );
    for await (const entry of walk) {
      if (!glob.matches(entry.rel)) continue;
      paths.push(entry.path);
      if (paths.length > max) break;
    }
  } catch (err) {
    throw fsError(err, root);
  }
  return { paths: paths.slice(0, max), incomplete: state.timedOut || paths.length > max };
}

/**
 * replaceInFiles replaces every occurrence of a pattern in each listed file and rewrites each
 * changed file atomically, keeping its mode and owner. Every file gets its own result; only
 * invalid requests are errors.
 */
export async function replaceInFiles(
  fsys: Filesystem,
  inputs: string[],
  pattern: string,
  replacement: string,
  regex: boolean,
  ignoreCase: boolean,
): Promise<ReplaceFileResult[]> {
  if (inputs.length === 0) throw invalidArgument("paths", "must name at least one file");
  if (inputs.length > MAX_REPLACE_FILES)
    throw invalidArgument("paths", `must name at most ${MAX_REPLACE_FILES} files`);
  const flags = ignoreCase ? "giu" : "gu";
  const source = compilePattern(pattern, regex, flags);
  const deadline = Date.now() + REPLACE_TIMEOUT_MS;
  const results: ReplaceFileResult[] = [];
  if (!(await fsys.textWorkers.acquire(deadline))) {
    throw resourceExhausted("STREAM_LIMIT_EXCEEDED", "too many searches and replacements at once", {
      limit: String(fsys.textWorkers.size),
    });
  }
  const worker = new TextWorker();
  try {
    for (const [i, input] of inputs.entries()) {
      results.push(
        await replaceOne(
          fsys,
          worker,
          input,
          `paths[${i}]`,
          { source, flags, replacement, verbatim: !regex },
          deadline,
        ),
      );
    }
  } finally {
    await worker.close();
    fsys.textWorkers.release();
  }
  return results;
}

async function replaceOne(
  fsys: Filesystem,
  worker: TextWorker,
  input: string,
  field: string,
  job: { source: string; flags: string; replacement: string; verbatim: boolean },
  deadline: number,
): Promise<ReplaceFileResult> {
  let file = input;
  const fail = (reason: string, message: string): ReplaceFileResult => ({
    path: file,
    count: 0,
    errorReason: reason,
    errorMessage: message,
  });
  try {
    file = fsys.resolve(input, field);
    if (Date.now() > deadline) {
      return fail(
        "INVALID_FIELD",
        `not edited: the call's ${REPLACE_TIMEOUT_MS / 1000} s budget ran out (pattern too slow?)`,
      );
    }
    let real = file;
    try {
      real = await fs.promises.realpath(file);
      const st = await fs.promises.stat(real);
      if (st.isDirectory()) return fail("IS_A_DIRECTORY", `is a directory: ${file}`);
    } catch (err) {
      if (errnoCode(err) === "ENOTDIR") throw notADirectory(path.dirname(file));
      throw err;
    }
    const outcome = await worker.replace({ ...job, file: real }, deadline);
    if (outcome.kind === "error")
      throw Object.assign(new Error(outcome.code), { code: outcome.code });
    if (outcome.kind === "skipped") {
      const message =
        outcome.reason === "PAYLOAD_TOO_LARGE"
          ? `larger than ${MAX_TEXT_FILE_BYTES} bytes: ${file}`
          : `${outcome.message}: ${file}`;
      return fail(outcome.reason, message);
    }
    if (outcome.count > 0 && outcome.content) {
      await writeAtomically(real, single(outcome.content), {
        createParents: false,
        overwrite: true,
        limitBytes: Number.MAX_SAFE_INTEGER,
        sizeField: "data",
      });
    }
    return { path: file, count: outcome.count, errorReason: "", errorMessage: "" };
  } catch (err) {
    if (err instanceof TextWorkerTimeout) {
      return fail(
        "INVALID_FIELD",
        `pattern did not finish on ${file} within the call's ${REPLACE_TIMEOUT_MS / 1000} s budget`,
      );
    }
    const mapped = fsError(err, file, field);
    const reason = "reason" in mapped ? String(mapped.reason) : "INTERNAL";
    return fail(reason, reason === "INTERNAL" ? `could not edit ${file}` : mapped.message);
  }
}

async function* single(data: Uint8Array): AsyncGenerator<Uint8Array> {
  yield data;
}
