import { invalidArgument } from "@cove/common";

/** Longest glob accepted, in bytes. */
export const MAX_GLOB_BYTES = 1024;

/** Most alternatives a glob may expand to through {a,b} groups. */
export const MAX_GLOB_ALTERNATIVES = 256;

/** A compiled glob, matched against "/"-separated relative paths. */
export interface Glob {
  /** matches says whether the whole relative path matches. */
  matches(relPath: string): boolean;
  /** mayMatchUnder says whether some path below directory `relDir` could match. */
  mayMatchUnder(relDir: string): boolean;
}

type Token =
  | { kind: "char"; ch: string }
  | { kind: "any" }
  | { kind: "star" }
  | { kind: "class"; negated: boolean; ranges: Array<[number, number]> };

/** One "/"-separated element of a pattern: "**" or a list of tokens. */
type Segment = { kind: "globstar" } | { kind: "tokens"; tokens: Token[] };

/**
 * compileGlob parses a glob: "*" and "?" never cross "/", a "**" element matches any number
 * of directories, "[abc]", "[a-z]", "[!a]" / "[^a]" are character classes, "{a,b}" are
 * alternatives (nesting allowed), "\x" is a literal x; dot files are not special. Matching
 * is by dynamic programming over (pattern position, path position), so no glob can take more
 * than polynomial time. Empty or oversized globs are INVALID_ARGUMENT naming `field`.
 */
export function compileGlob(glob: string, field = "glob"): Glob {
  if (glob === "") throw invalidArgument(field, "must not be empty");
  if (Buffer.byteLength(glob) > MAX_GLOB_BYTES) {
    throw invalidArgument(field, `must be at most ${MAX_GLOB_BYTES} bytes`);
  }
  const alternatives = expandBraces(glob, field).map(parsePattern);
  return {
    matches: (relPath) =>
      alternatives.some((segs) => matchSegments(segs, splitPath(relPath), false)),
    mayMatchUnder: (relDir) =>
      alternatives.some((segs) => matchSegments(segs, splitPath(relDir), true)),
  };
}

function splitPath(rel: string): string[] {
  return rel.split("/").filter((s) => s !== "" && s !== ".");
}

/** expandBraces turns "a{b,c{d,e}}" into ["ab", "acd", "ace"]; unmatched braces are literal. */
function expandBraces(glob: string, field: string): string[] {
  let pos = 0;
  const append = (list: string[], text: string) => list.map((s) => s + text);

  function closes(from: number): boolean {
    let depth = 0;
    for (let i = from; i < glob.length; i++) {
      const c = glob[i];
      if (c === "\\") i++;
      else if (c === "{") depth++;
      else if (c === "}" && --depth === 0) return true;
    }
    return false;
  }

  function sequence(inBrace: boolean): string[] {
    let results = [""];
    while (pos < glob.length) {
      const c = glob[pos] as string;
      if (c === "\\") {
        results = append(results, glob.slice(pos, pos + 2));
        pos += 2;
      } else if (c === "{" && closes(pos)) {
        pos++;
        const options: string[] = [];
        for (;;) {
          options.push(...sequence(true));
          const stop = glob[pos];
          pos++;
          if (stop !== ",") break;
        }
        const parts = options.length === 1 ? [`{${options[0]}}`] : options;
        const next: string[] = [];
        for (const r of results) for (const p of parts) next.push(r + p);
        if (next.length > MAX_GLOB_ALTERNATIVES) {
          throw invalidArgument(
            field,
            `expands to more than ${MAX_GLOB_ALTERNATIVES} alternatives`,
          );
        }
        results = next;
      } else if (inBrace && (c === "," || c === "}")) {
        return results;
      } else {
        results = append(results, c);
        pos++;
      }
    }
    return results;
  }

  return sequence(false);
}

function parsePattern(pattern: string): Segment[] {
  let p = pattern;
  while (p.startsWith("./")) p = p.slice(2);
  const segments: Segment[] = [];
  for (const element of splitPattern(p)) {
    if (element === "") continue;
    if (element === "**") {
      if (segments.at(-1)?.kind !== "globstar") segments.push({ kind: "globstar" });
    } else {
      segments.push({ kind: "tokens", tokens: tokenize(element) });
    }
  }
  return segments;
}

/** splitPattern splits at "/" outside character classes and escapes. */
function splitPattern(p: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === "\\") i++;
    else if (c === "[") {
      const end = classEnd(p, i);
      if (end > 0) i = end;
    } else if (c === "/") {
      out.push(p.slice(start, i));
      start = i + 1;
    }
  }
  out.push(p.slice(start));
  return out;
}

/** classEnd returns the index of the "]" closing the class opened at `open`, or -1. */
function classEnd(p: string | string[], open: number): number {
  let i = open + 1;
  if (p[i] === "!" || p[i] === "^") i++;
  if (p[i] === "]") i++;
  for (; i < p.length; i++) {
    if (p[i] === "\\") i++;
    else if (p[i] === "]") return i;
  }
  return -1;
}

function tokenize(element: string): Token[] {
  const chars = Array.from(element);
  const tokens: Token[] = [];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i] as string;
    if (c === "\\" && i + 1 < chars.length) {
      tokens.push({ kind: "char", ch: chars[++i] as string });
    } else if (c === "*") {
      if (tokens.at(-1)?.kind !== "star") tokens.push({ kind: "star" });
    } else if (c === "?") {
      tokens.push({ kind: "any" });
    } else if (c === "[" && classEnd(chars, i) > 0) {
      const parsed = parseClass(chars, i);
      tokens.push(parsed.token);
      i = parsed.end;
    } else {
      tokens.push({ kind: "char", ch: c });
    }
  }
  return tokens;
}

function parseClass(chars: string[], open: number): { token: Token; end: number } {
  let i = open + 1;
  const negated = chars[i] === "!" || chars[i] === "^";
  if (negated) i++;
  const ranges: Array<[number, number]> = [];
  let first = true;
  for (; i < chars.length; i++) {
    let c = chars[i] as string;
    if (c === "]" && !first) break;
    first = false;
    if (c === "\\" && i + 1 < chars.length) c = chars[++i] as string;
    const lo = c.codePointAt(0) as number;
    if (chars[i + 1] === "-" && chars[i + 2] !== undefined && chars[i + 2] !== "]") {
      let hiChar = chars[i + 2] as string;
      i += 2;
      if (hiChar === "\\" && i + 1 < chars.length) hiChar = chars[++i] as string;
      ranges.push([lo, hiChar.codePointAt(0) as number]);
    } else {
      ranges.push([lo, lo]);
    }
  }
  return { token: { kind: "class", negated, ranges }, end: i };
}

/** matchName matches one path element against one element's tokens. */
function matchName(tokens: Token[], name: string): boolean {
  const chars = Array.from(name);
  const n = chars.length;
  let cur = new Uint8Array(n + 1);
  cur[0] = 1;
  for (const t of tokens) {
    const next = new Uint8Array(n + 1);
    if (t.kind === "star") {
      let on = 0;
      for (let j = 0; j <= n; j++) {
        if (cur[j]) on = 1;
        next[j] = on;
      }
    } else {
      for (let j = 0; j < n; j++) {
        if (cur[j] && tokenMatches(t, chars[j] as string)) next[j + 1] = 1;
      }
    }
    cur = next;
  }
  return cur[n] === 1;
}

function tokenMatches(t: Token, ch: string): boolean {
  switch (t.kind) {
    case "char":
      return t.ch === ch;
    case "any":
      return true;
    case "class": {
      const cp = ch.codePointAt(0) as number;
      const inside = t.ranges.some(([lo, hi]) => cp >= lo && cp <= hi);
      return inside !== t.negated;
    }
    default:
      return false;
  }
}

/**
 * matchSegments runs the element-level automaton: with `prefix`, it says whether the path is
 * a directory under which a match is still possible.
 */
function matchSegments(segs: Segment[], parts: string[], prefix: boolean): boolean {
  const m = segs.length;
  const n = parts.length;
  // reach[j] = pattern positions i reachable after consuming j path elements.
  let reach = new Uint8Array(m + 1);
  reach[0] = 1;
  closeGlobstars(segs, reach);
  for (let j = 0; j < n; j++) {
    const next = new Uint8Array(m + 1);
    for (let i = 0; i < m; i++) {
      if (!reach[i]) continue;
      const seg = segs[i] as Segment;
      if (seg.kind === "globstar") next[i] = 1;
      else if (matchName(seg.tokens, parts[j] as string)) next[i + 1] = 1;
    }
    closeGlobstars(segs, next);
    reach = next;
  }
  if (!prefix) return reach[m] === 1;
  for (let i = 0; i < m; i++) if (reach[i]) return true;
  return false;
}

/** closeGlobstars lets a reachable "**" also match zero elements. */
function closeGlobstars(segs: Segment[], reach: Uint8Array): void {
  for (let i = 0; i < segs.length; i++) {
    if (reach[i] && segs[i]?.kind === "globstar") reach[i + 1] = 1;
  }
}
