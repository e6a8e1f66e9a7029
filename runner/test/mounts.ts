// Test clean-up for runner data folders: the runner mounts each sandbox's socket folder (a
// small tmpfs) and disk inside its data folder; a test that removes containers behind the
// runner's back, or kills the runner, leaves those mounts in place.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";

/** unmountUnder lazily unmounts every mount point below `dir`, deepest first. */
export function unmountUnder(dir: string): void {
  let points: string[] = [];
  try {
    points = fs
      .readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .map((line) => line.split(" ")[4] ?? "")
      .filter((point) => point.startsWith(`${dir}/`));
  } catch {
    return;
  }
  for (const point of points.sort((a, b) => b.length - a.length)) {
    spawnSync("umount", ["-l", point], { stdio: "ignore" });
  }
}
