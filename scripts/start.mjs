// `npm start`: sets up what is missing (npm packages, Docker, the sandbox base image, the
// daemon kit), then runs Cove in one process (scripts/all-in-one.ts).
import { spawn } from "node:child_process";
import { join } from "node:path";
import {
  ensureDebianPackages,
  ensureDocker,
  ensureNodeModules,
  ensureRunsc,
  root,
  step,
} from "./lib/bootstrap.mjs";

ensureNodeModules();
ensureDocker();
if (process.getuid?.() === 0) {
  // The runner's egress policies (nft) and disk limits (ext4 images); gVisor as runtime "runsc".
  ensureDebianPackages(["nftables", "e2fsprogs"]);
  try {
    ensureRunsc();
  } catch (err) {
    process.stdout.write(`gVisor (runsc) is not available: ${err.message}\n`);
  }
}
const { ensureBaseImage } = await import("./build-base-image.mjs");
step("Sandbox base image");
await ensureBaseImage();
const { buildKit } = await import("../daemon/scripts/build-kit.mjs");
step("Daemon kit");
await buildKit();
step("Starting Cove");
const child = spawn(
  join(root, "node_modules", ".bin", "tsx"),
  [join(root, "scripts", "all-in-one.ts")],
  {
    stdio: "inherit",
    cwd: root,
    env: { ...process.env, NODE_OPTIONS: process.env.NODE_OPTIONS ?? "--enable-source-maps" },
  },
);
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
