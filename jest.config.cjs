/** Jest for every TypeScript workspace: swc transpiles TS (and ESM) to CommonJS per file. */
module.exports = {
  testEnvironment: "node",
  transform: {
    "^.+\\.(t|j|mj)s$": [
      "@swc/jest",
      {
        jsc: { target: "es2022", parser: { syntax: "typescript" } },
        module: { type: "commonjs" },
      },
    ],
  },
  moduleNameMapper: { "^(\\.{1,2}/.*)\\.js$": "$1" },
  moduleFileExtensions: ["ts", "js", "mjs", "cjs", "json"],
  testMatch: [
    "<rootDir>/**/test/**/*.test.ts",
    "<rootDir>/**/src/**/*.test.ts",
    "<rootDir>/interop/ts/**/*.test.ts",
  ],
  testPathIgnorePatterns: ["/node_modules/", "<rootDir>/gen/", "<rootDir>/.venv/"],
  transformIgnorePatterns: ["/node_modules/(?!@cove/)"],
  testTimeout: 30000,
  // On two cores jest runs every file in one process: a handle one suite leaks (a socket, a
  // timer) must not hang the whole run. Jest still names the leak when it forces the exit.
  forceExit: true,
  // Every hardening and policy assertion listed with PASS/FAIL/SKIP at the end of a run.
  reporters: ["default", "<rootDir>/test/isolation-scoreboard.cjs"],
  globalSetup: "<rootDir>/test/jest-global-setup.ts",
  globalTeardown: "<rootDir>/test/jest-global-teardown.ts",
};
