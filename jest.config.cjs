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
  globalSetup: "<rootDir>/test/jest-global-setup.ts",
  globalTeardown: "<rootDir>/test/jest-global-teardown.ts",
};
