#!/usr/bin/env node
// The `cove` command: registers tsx (from the repository's node_modules) so that the CLI runs
// from its TypeScript sources with no build step, then hands over to src/main.ts.
import { register } from "tsx/esm/api";

register();
await import("../src/main.ts");
