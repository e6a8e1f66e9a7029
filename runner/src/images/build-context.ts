// A Dockerfile build's context, made from the command's files: a tar stream of regular files
// only (no links, devices or directories the caller can describe), with paths checked so no
// entry can land outside the context (no "..", no absolute paths, no NUL), within the caps of
// cove.snapshot.v1.DockerfileBuild. The Dockerfile itself travels under a reserved name.
import type { Readable } from "node:stream";
import { invalidArgument, resourceExhausted } from "@cove/common";
import * as tar from "tar-stream";

/** One file of the context. */
export interface ContextFile {
  /** Path relative to the context root. */
  path: string;
  /** The file's bytes. */
  content: Uint8Array;
  /** Unix permission bits; default 0644. Set-id and sticky bits are dropped. */
  mode?: number;
}

/** A Dockerfile build as the runner takes it (DockerfileBuild in the protocol). */
export interface DockerfileBuildSpec {
  /** The Dockerfile's text. */
  content: string;
  /** The context files COPY and ADD read. */
  files: ContextFile[];
  /** ARG values. */
  buildArgs: Record<string, string>;
  /** The multi-stage target; "" for the last stage. */
  target: string;
}

/** The caps of one build (DockerfileBuild's documented limits). */
export interface BuildLimits {
  /** Most bytes of Dockerfile text. Default 1 MiB. */
  dockerfileBytes: number;
  /** Most context files. Default 10 000. */
  files: number;
  /** Most bytes of all context files together. Default 32 MiB. */
  contextBytes: number;
}

/** The documented defaults: 1 MiB Dockerfile, 10 000 files, 32 MiB of context. */
export const defaultBuildLimits: BuildLimits = {
  dockerfileBytes: 1024 * 1024,
  files: 10_000,
  contextBytes: 32 * 1024 * 1024,
};

/** The Dockerfile's name inside the context; no context file may use it. */
export const DOCKERFILE_NAME = ".cove-build.Dockerfile";

/**
 * normalizeContextPath checks one context path and returns it without "./" or doubled slashes:
 * relative, at most 4096 bytes, no NUL, no "..", not the Dockerfile's reserved name.
 */
export function normalizeContextPath(path: string, field: string): string {
  if (path.length === 0) throw invalidArgument(field, "must not be empty");
  if (Buffer.byteLength(path) > 4096) throw invalidArgument(field, "must be at most 4096 bytes");
  if (path.includes("\0")) throw invalidArgument(field, "must not contain NUL");
  if (path.startsWith("/")) throw invalidArgument(field, "must be relative to the context root");
  const parts = path.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.some((p) => p === "..")) throw invalidArgument(field, 'must not contain ".."');
  if (parts.length === 0) throw invalidArgument(field, "must name a file");
  const normalized = parts.join("/");
  if (normalized === DOCKERFILE_NAME)
    throw invalidArgument(field, `${DOCKERFILE_NAME} is reserved`);
  return normalized;
}

/**
 * checkWorkdirs refuses WORKDIR instructions that lead into /proc, /sys or /dev (the
 * `WORKDIR /proc/self/fd/N` escape, CVE-2024-21626), after substituting the build's ARG values
 * and the file's own ARG/ENV defaults.
 */
export function checkWorkdirs(dockerfile: string, buildArgs: Record<string, string>): void {
  const vars = new Map<string, string>(Object.entries(buildArgs));
  const logical = dockerfile.replace(/\\\r?\n/g, " ").split(/\r?\n/);
  let cwd = "/";
  for (const raw of logical) {
    const line = raw.trim();
    const match = /^(\w+)\s+(.*)$/.exec(line);
    if (!match || line.startsWith("#")) continue;
    const instruction = (match[1] ?? "").toUpperCase();
    const args = match[2] ?? "";
    if (instruction === "FROM") cwd = "/";
    if (instruction === "ARG" || instruction === "ENV") {
      for (const pair of args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)(?:=("[^"]*"|'[^']*'|\S*))?/g)) {
        const name = pair[1] ?? "";
        const value = (pair[2] ?? "").replace(/^["']|["']$/g, "");
        if (instruction === "ENV" || !vars.has(name)) vars.set(name, value);
      }
      if (
        instruction === "ENV" &&
        /^[A-Za-z_][A-Za-z0-9_]*\s+\S/.test(args) &&
        !args.includes("=")
      ) {
        const [name, ...value] = args.split(/\s+/);
        vars.set(name ?? "", value.join(" "));
      }
      continue;
    }
    if (instruction !== "WORKDIR") continue;
    const expanded = args
      .replace(/^["']|["']$/g, "")
      .replace(
        /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::[-+][^}]*)?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
        (_, a, b) => vars.get(a ?? b) ?? "",
      );
    const absolute = expanded.startsWith("/") ? expanded : `${cwd}/${expanded}`;
    const parts: string[] = [];
    for (const p of absolute.split("/")) {
      if (p === "" || p === ".") continue;
      if (p === "..") parts.pop();
      else parts.push(p);
    }
    cwd = `/${parts.join("/")}`;
    if (["proc", "sys", "dev"].includes(parts[0] ?? "")) {
      throw invalidArgument(
        "dockerfile.content",
        `WORKDIR ${args.slice(0, 100)} leads into /${parts[0]}; build steps may not run there`,
      );
    }
  }
}

/**
 * validateBuild checks a build against the limits and returns its normalized file list.
 * Oversized input is RESOURCE_EXHAUSTED (PAYLOAD_TOO_LARGE); malformed input INVALID_ARGUMENT.
 */
export function validateBuild(
  build: DockerfileBuildSpec,
  limits: BuildLimits = defaultBuildLimits,
): ContextFile[] {
  if (build.content.trim() === "") throw invalidArgument("dockerfile.content", "is required");
  const dockerfileBytes = Buffer.byteLength(build.content);
  if (dockerfileBytes > limits.dockerfileBytes) {
    throw resourceExhausted(
      "PAYLOAD_TOO_LARGE",
      `the Dockerfile is ${dockerfileBytes} bytes; at most ${limits.dockerfileBytes} are allowed`,
      {
        limitBytes: String(limits.dockerfileBytes),
        field: "dockerfile.content",
      },
    );
  }
  if (build.files.length > limits.files) {
    throw resourceExhausted(
      "PAYLOAD_TOO_LARGE",
      `the build context has ${build.files.length} files; at most ${limits.files} are allowed`,
      {
        limitBytes: String(limits.contextBytes),
        field: "dockerfile.context_files",
      },
    );
  }
  let total = 0;
  const seen = new Set<string>();
  const files: ContextFile[] = [];
  build.files.forEach((file, i) => {
    const field = `dockerfile.context_files[${i}].path`;
    const path = normalizeContextPath(file.path, field);
    if (seen.has(path)) throw invalidArgument(field, `${path} appears twice`);
    seen.add(path);
    total += file.content.byteLength;
    if (total > limits.contextBytes) {
      throw resourceExhausted(
        "PAYLOAD_TOO_LARGE",
        `the build context is larger than ${limits.contextBytes} bytes`,
        {
          limitBytes: String(limits.contextBytes),
          field: "dockerfile.context_files",
        },
      );
    }
    const mode = file.mode ?? 0o644;
    if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) {
      throw invalidArgument(
        `dockerfile.context_files[${i}].mode`,
        "must be Unix permission bits (0–07777)",
      );
    }
    files.push({ path, content: file.content, mode: mode & 0o777 });
  });
  // A file may not also be a directory of another file ("a" and "a/b").
  for (const path of seen) {
    const parts = path.split("/");
    for (let n = 1; n < parts.length; n++) {
      const dir = parts.slice(0, n).join("/");
      if (seen.has(dir))
        throw invalidArgument("dockerfile.context_files", `${dir} is both a file and a directory`);
    }
  }
  for (const [key, value] of Object.entries(build.buildArgs)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key))
      throw invalidArgument(`dockerfile.build_args.${key.slice(0, 64)}`, "must be an ARG name");
    if (value.includes("\0"))
      throw invalidArgument(`dockerfile.build_args.${key}`, "must not contain NUL");
  }
  if (build.target !== "" && !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(build.target)) {
    throw invalidArgument("dockerfile.target", "must be a stage name");
  }
  checkWorkdirs(build.content, build.buildArgs);
  return files;
}

/**
 * contextTar streams the context as an uncompressed tar: the Dockerfile under DOCKERFILE_NAME,
 * then each file (owner 0:0, fixed mtime so identical inputs make identical contexts).
 */
export function contextTar(build: DockerfileBuildSpec, files: ContextFile[]): Readable {
  const pack = tar.pack();
  const mtime = new Date(0);
  const dirs = new Set<string>();
  const entry = (header: Partial<tar.Header> & { name: string }, body?: Buffer) =>
    new Promise<void>((resolve, reject) => {
      const done = (err?: Error | null) => (err ? reject(err) : resolve());
      if (body) pack.entry(header, body, done);
      else pack.entry(header, done);
    });
  void (async () => {
    try {
      await entry(
        { name: DOCKERFILE_NAME, mode: 0o644, mtime, uid: 0, gid: 0, type: "file" },
        Buffer.from(build.content),
      );
      for (const file of files) {
        const parts = file.path.split("/");
        for (let n = 1; n < parts.length; n++) {
          const dir = parts.slice(0, n).join("/");
          if (dirs.has(dir)) continue;
          dirs.add(dir);
          await entry({ name: `${dir}/`, mode: 0o755, mtime, uid: 0, gid: 0, type: "directory" });
        }
        await entry(
          { name: file.path, mode: file.mode ?? 0o644, mtime, uid: 0, gid: 0, type: "file" },
          Buffer.from(file.content),
        );
      }
      pack.finalize();
    } catch (err) {
      pack.destroy(err as Error);
    }
  })();
  return pack as unknown as Readable;
}
