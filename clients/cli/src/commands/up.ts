// `cove up`: inside a checkout of the Cove repository, run `npm start` (server, runner, proxy
// and SSH gateway, each a supervised process); when it already runs, say where; anywhere else,
// say how to get there.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { ParsedArgs } from "../args.js";
import type { Context } from "../context.js";
import { boolFlag } from "../flags.js";

/** findRepository walks up from dir to the Cove repository's root, if dir is inside one. */
export function findRepository(dir: string): string | undefined {
  for (let current = path.resolve(dir); ; current = path.dirname(current)) {
    const manifest = path.join(current, "package.json");
    try {
      const pkg = JSON.parse(fs.readFileSync(manifest, "utf8")) as { name?: string };
      if (pkg.name === "cove" && fs.existsSync(path.join(current, "scripts", "all-in-one.ts"))) {
        return current;
      }
    } catch {
      // no package.json here, or not JSON: keep walking
    }
    if (path.dirname(current) === current) return undefined;
  }
}

/** The data folder `npm start` uses: COVE_DATA_DIR, else ~/.cove, or /var/lib/cove as root. */
function dataDirOf(env: NodeJS.ProcessEnv): string {
  return (
    env.COVE_DATA_DIR ||
    (process.getuid?.() === 0 ? "/var/lib/cove" : path.join(env.HOME || os.homedir(), ".cove"))
  );
}

/** The admin key file `npm start` writes in its data folder. */
function adminKeyFile(env: NodeJS.ProcessEnv): string {
  return path.join(dataDirOf(env), "admin-api-key");
}

/** What `npm start` records in <data folder>/running.json (scripts/lib/running-stack.ts). */
interface RunningStack {
  pid: number;
  startTime: string;
  apiUrl: string;
  proxyUrl: string;
  sshPort: number;
}

/** runningStack returns the stack `npm start` runs with this data folder, if its process lives. */
export function runningStack(env: NodeJS.ProcessEnv): RunningStack | undefined {
  let stack: RunningStack;
  try {
    stack = JSON.parse(fs.readFileSync(path.join(dataDirOf(env), "running.json"), "utf8"));
  } catch {
    return undefined;
  }
  if (!Number.isInteger(stack.pid)) return undefined;
  try {
    process.kill(stack.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return undefined;
  }
  return stack;
}

/** What to do once Cove is running, the same inside or outside the repository. */
function nextSteps(env: NodeJS.ProcessEnv): string[] {
  return [
    "Once it runs it prints the API URL, the proxy URL and the SSH port; on first start it",
    `makes an admin API key, kept in ${adminKeyFile(env)}. Then:`,
    "",
    "  cove login --api-url http://127.0.0.1:3000 --proxy-url http://localhost:4000 \\",
    `    --api-key - < ${adminKeyFile(env)}`,
    "  cove sandbox create",
  ];
}

/** up is `cove up`. */
export async function up(parsed: ParsedArgs, ctx: Context): Promise<number> {
  const root = findRepository(process.cwd());
  if (!root) {
    ctx.io.stdout.write(
      [
        "Cove runs from a checkout of its repository, on Linux with Node.js 20+ and Docker:",
        "",
        "  cd <the cove repository>",
        "  npm start        # API server, runner, proxy and SSH gateway, each supervised",
        "",
        ...nextSteps(ctx.io.env),
        "",
      ].join("\n"),
    );
    return 0;
  }
  const running = runningStack(ctx.io.env);
  if (running) {
    ctx.io.stdout.write(
      [
        `Cove is already running (process ${running.pid}, since ${running.startTime}):`,
        `  API      ${running.apiUrl}`,
        `  Proxy    ${running.proxyUrl}`,
        `  SSH      port ${running.sshPort}`,
        "",
        `  cove login --api-url ${running.apiUrl} --proxy-url ${running.proxyUrl} \\`,
        `    --api-key - < ${adminKeyFile(ctx.io.env)}`,
        "",
      ].join("\n"),
    );
    return 0;
  }
  if (boolFlag(parsed, "dry-run")) {
    ctx.io.stdout.write(
      `would run \`npm start\` in ${root}\n\n${nextSteps(ctx.io.env).join("\n")}\n`,
    );
    return 0;
  }
  ctx.io.stderr.write(`Running \`npm start\` in ${root}\n${nextSteps(ctx.io.env).join("\n")}\n\n`);
  return await new Promise<number>((resolve, reject) => {
    const child = spawn("npm", ["start"], { cwd: root, stdio: "inherit" });
    // npm start stops Cove on Ctrl-C itself; the CLI waits for it to finish.
    const ignore = () => {};
    process.on("SIGINT", ignore);
    child.on("error", reject);
    child.on("exit", (code) => {
      process.off("SIGINT", ignore);
      resolve(code ?? 1);
    });
  });
}
