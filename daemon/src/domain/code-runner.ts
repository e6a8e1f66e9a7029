import * as fs from "node:fs";
import * as path from "node:path";
import { failedPrecondition } from "@cove/common";
import { makeScratchDir } from "./scratch-dirs.js";
import type { OsUser } from "./users.js";

/** Languages CodeRun accepts. */
export type CodeLanguage = "python" | "javascript" | "typescript";

/** A snippet written to disk with the argv that runs it. */
export interface PreparedCode {
  /** argv: the runtime, its flags, the file, then the user's arguments. */
  argv: string[];
  /** remove deletes the snippet's folder; call it when the process has ended. */
  remove(): void;
}

const extensions: Record<CodeLanguage, string> = {
  python: "py",
  javascript: "mjs",
  typescript: "ts",
};

/** findOnPath returns the first executable named `name` on PATH, or undefined. */
export function findOnPath(name: string, pathVar: string | undefined): string | undefined {
  for (const dir of (pathVar ?? "").split(":")) {
    if (dir === "") continue;
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

function runtimeFor(language: CodeLanguage, pathVar: string | undefined): string[] {
  const need = (runtime: string) =>
    failedPrecondition(
      "RUNTIME_NOT_INSTALLED",
      `${language} code needs ${runtime}, which is not installed in this sandbox's image`,
      { runtime, language },
    );
  switch (language) {
    case "python": {
      const python = findOnPath("python3", pathVar) ?? findOnPath("python", pathVar);
      if (!python) throw need("python3");
      return [python, "-u"];
    }
    case "javascript": {
      const node = findOnPath("node", pathVar);
      if (!node) throw need("node");
      return [node];
    }
    case "typescript": {
      const tsx = findOnPath("tsx", pathVar);
      if (tsx) return [tsx];
      throw need("tsx");
    }
  }
}

/**
 * prepareCode writes a snippet to a private temp folder (owned by the user who runs it) and
 * returns the argv that runs it with the language's runtime from the process's PATH.
 * FAILED_PRECONDITION (RUNTIME_NOT_INSTALLED) when the image has no such runtime.
 */
export function prepareCode(
  language: CodeLanguage,
  code: string,
  args: string[],
  user: OsUser | undefined,
  pathVar: string | undefined,
): PreparedCode {
  const runtime = runtimeFor(language, pathVar);
  const dir = makeScratchDir("cove-code-");
  const file = path.join(dir, `main.${extensions[language]}`);
  fs.writeFileSync(file, code);
  if (user) {
    fs.chownSync(dir, user.uid, user.gid);
    fs.chownSync(file, user.uid, user.gid);
  }
  return {
    argv: [...runtime, file, ...args],
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
