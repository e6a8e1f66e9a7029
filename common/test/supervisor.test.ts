// The supervisor restarts a part that died of a bug, leaves the others alone, and stops all.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { UNHANDLED_EXIT_CODE } from "../src/last-resort.js";
import { createLogger } from "../src/logger.js";
import { createSupervisor } from "../src/supervisor.js";

const root = path.resolve(__dirname, "../..");
const script = path.join(__dirname, "supervised-part.ts");

test("a part that crashes is restarted; its neighbour keeps its process", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cove-supervisor-"));
  const marker = path.join(dir, "crash");
  fs.writeFileSync(marker, "");
  const lines: string[] = [];
  const logger = createLogger({ level: "info", write: (line) => lines.push(line) });
  const supervisor = createSupervisor(logger, { initialDelayMs: 50 });
  try {
    const env = { PATH: process.env.PATH, HOME: process.env.HOME };
    const steady = await supervisor.start({ name: "steady", script, env, cwd: root });
    const flaky = await supervisor.start({
      name: "flaky",
      script,
      env: { ...env, COVE_TEST_CRASH_ONCE: marker },
      cwd: root,
    });
    const deadline = Date.now() + 30_000;
    while (supervisor.restarts("flaky") === 0 || supervisor.pid("flaky") === undefined) {
      if (Date.now() > deadline) throw new Error(`no restart; log:\n${lines.join("")}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(supervisor.pid("flaky")).not.toBe(flaky.pid);
    expect(supervisor.pid("steady")).toBe(steady.pid);
    const exit = lines.map((l) => JSON.parse(l)).find((l) => l.msg.includes("exited unexpectedly"));
    expect(exit).toMatchObject({ part: "flaky", code: UNHANDLED_EXIT_CODE });
  } finally {
    await supervisor.stop(2_000);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  expect(supervisor.pid("flaky")).toBeUndefined();
  expect(supervisor.pid("steady")).toBeUndefined();
});

test("a part that exits before it is ready fails start", async () => {
  const supervisor = createSupervisor(createLogger({ level: "silent" }));
  await expect(
    supervisor.start({
      name: "broken",
      script: path.join(__dirname, "no-such-part.ts"),
      env: { PATH: process.env.PATH },
      cwd: root,
    }),
  ).rejects.toThrow(/broken exited before it was ready/);
  await supervisor.stop();
});
