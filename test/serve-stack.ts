// Serves a whole Cove stack for tests written in other languages (pytest, go test): starts
// Postgres (and Redis when installed) like jest's global setup, then server + runner + proxy,
// prints one JSON line {apiUrl, proxyUrl, sshPort, adminKey}, and stops everything when stdin
// closes or on SIGTERM/SIGINT.
import globalSetup from "./jest-global-setup.js";
import globalTeardown from "./jest-global-teardown.js";
import { startStack } from "./stack.js";

await globalSetup();
const stack = await startStack({ name: process.env.COVE_STACK_NAME ?? "served" });
process.stdout.write(
  `${JSON.stringify({ apiUrl: stack.apiUrl, proxyUrl: stack.proxyUrl, sshPort: stack.sshPort, adminKey: stack.adminKey })}\n`,
);
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await stack.stop();
  await globalTeardown();
  process.exit(0);
};
process.stdin.on("end", () => void stop());
process.stdin.resume();
process.on("SIGTERM", () => void stop());
process.on("SIGINT", () => void stop());
