// A part for supervisor.test.ts: says it is ready; when the file in COVE_TEST_CRASH_ONCE exists
// it removes it and then dies of an uncaught exception (through the last-resort handler).
import * as fs from "node:fs";
import { installLastResort } from "../src/last-resort.js";
import { createLogger } from "../src/logger.js";

installLastResort(createLogger({ level: "silent" }));
const marker = process.env.COVE_TEST_CRASH_ONCE ?? "";
process.send?.({ cove: "ready", pid: process.pid });
if (marker !== "" && fs.existsSync(marker)) {
  fs.rmSync(marker);
  setTimeout(() => {
    throw new Error("a bug in one part");
  }, 50);
}
setInterval(() => {}, 60_000);
process.on("SIGTERM", () => process.exit(0));
