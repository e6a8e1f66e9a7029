// The Docker driver's hardening tests (docker-driver.test.ts) again, with every sandbox under
// gVisor (runsc, which `npm test` and CI build and register with dockerd). Skips when the
// engine has no runsc runtime, unless COVE_REQUIRE_RUNSC=1 (CI) makes that a failure.
import { spawnSync } from "node:child_process";

const runtimes = spawnSync("docker", ["info", "--format", "{{json .Runtimes}}"], {
  encoding: "utf8",
  timeout: 15_000,
}).stdout;
const hasRunsc = /"runsc"/.test(runtimes ?? "");

if (hasRunsc || process.env.COVE_REQUIRE_RUNSC === "1") {
  process.env.COVE_TEST_RUNTIME = "runsc";
  // The same suite, registered in this file: its describe names say "(runsc)".
  require("./docker-driver.test");
} else {
  console.warn("Skipping the gVisor hardening tests: dockerd has no runsc runtime");
  describe.skip("DockerDriver under runsc", () => {
    test("needs the runsc runtime", () => {});
  });
}
