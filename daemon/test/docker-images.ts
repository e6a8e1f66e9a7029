// Test images built locally, with no registry: a rootfs directory turned into an image with
// `docker import`. Each image is tagged with a hash of its contents and built only once.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** docker runs the Docker CLI and returns its stdout; throws with stderr when it fails. */
export function docker(args: string[], input?: Buffer): string {
  const result = spawnSync("docker", args, {
    encoding: "utf8",
    input,
    maxBuffer: 64 * 1024 * 1024,
    timeout: 120_000,
  });
  if (result.error) throw new Error(`docker ${args[0]}: ${result.error.message}`);
  if (result.status !== 0) {
    throw new Error(`docker ${args.join(" ")} exited ${result.status}: ${result.stderr.trim()}`);
  }
  return result.stdout;
}

/** dockerUnreachableReason says why the Docker engine cannot be used, or undefined if it can. */
export function dockerUnreachableReason(): string | undefined {
  const result = spawnSync("docker", ["info", "--format", "{{.ServerVersion}}"], {
    encoding: "utf8",
    timeout: 15_000,
  });
  if (result.error) return `docker CLI: ${result.error.message}`;
  if (result.status !== 0) return result.stderr.trim() || `docker info exited ${result.status}`;
  return undefined;
}

/** Debian's busybox-static: one static binary that provides sh and the usual tools. */
const busybox = "/bin/busybox";

const passwd = [
  "root:x:0:0:root:/root:/bin/sh",
  "cove:x:1000:1000:Cove sandbox user:/home/cove:/bin/sh",
  "nobody:x:65534:65534:nobody:/nonexistent:/bin/false",
  "",
].join("\n");
const group = ["root:x:0:", "cove:x:1000:", "nogroup:x:65534:", ""].join("\n");

/**
 * ensureNoNodeImage returns the tag of a tiny image with no Node and no dynamic libraries: a
 * static busybox (with its applets linked in /bin), /etc/passwd with root and `cove` (uid 1000),
 * /tmp and /home/cove. Built with `docker import` when the tag is missing.
 */
export function ensureNoNodeImage(): string {
  if (!fs.existsSync(busybox)) {
    throw new Error(`${busybox} is missing: install Debian's busybox-static (npm test does)`);
  }
  if (spawnSync("ldd", [busybox], { encoding: "utf8" }).status === 0) {
    throw new Error(`${busybox} is dynamically linked: install busybox-static instead of busybox`);
  }
  const binary = fs.readFileSync(busybox);
  const hash = createHash("sha256").update(binary).update(passwd).update(group).update("v1");
  const tag = `cove-test/nonode:${hash.digest("hex").slice(0, 16)}`;
  if (spawnSync("docker", ["image", "inspect", tag], { stdio: "ignore" }).status === 0) return tag;

  const rootfs = fs.mkdtempSync(path.join(os.tmpdir(), "cove-nonode-"));
  try {
    for (const dir of ["bin", "etc", "root", "home/cove", "tmp", "proc", "sys", "dev", "run"]) {
      fs.mkdirSync(path.join(rootfs, dir), { recursive: true });
    }
    fs.chmodSync(path.join(rootfs, "tmp"), 0o1777);
    fs.chmodSync(path.join(rootfs, "root"), 0o700);
    fs.chownSync(path.join(rootfs, "home/cove"), 1000, 1000);
    fs.writeFileSync(path.join(rootfs, "bin/busybox"), binary, { mode: 0o755 });
    const applets = spawnSync(busybox, ["--list"], { encoding: "utf8" }).stdout.split("\n");
    for (const applet of applets) {
      if (applet && applet !== "busybox")
        fs.symlinkSync("busybox", path.join(rootfs, "bin", applet));
    }
    fs.writeFileSync(path.join(rootfs, "etc/passwd"), passwd);
    fs.writeFileSync(path.join(rootfs, "etc/group"), group);
    const tar = spawnSync("tar", ["-C", rootfs, "--numeric-owner", "-c", "."], {
      maxBuffer: 256 * 1024 * 1024,
    });
    if (tar.status !== 0) throw new Error(`tar of the test rootfs failed: ${tar.stderr}`);
    docker(["import", "-", tag], tar.stdout);
    return tag;
  } finally {
    fs.rmSync(rootfs, { recursive: true, force: true });
  }
}
