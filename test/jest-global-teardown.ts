// Stops what jest-global-setup.ts started.
import * as fs from "node:fs";

export default async function globalTeardown(): Promise<void> {
  const services = globalThis.__coveTestServices;
  if (!services) return;
  services.redis?.kill("SIGTERM");
  await services.postgres?.stop();
  fs.rmSync(services.dir, { recursive: true, force: true });
}
