import { loadServerConfig } from "../src/config.js";

test("rate limits and CORS origins come from the environment, with clear errors", () => {
  const config = loadServerConfig({
    COVE_RATE_LIMIT_WRITES: "5",
    COVE_CORS_ORIGINS: "https://a.test, https://b.test",
  });
  expect(config.rateLimits).toEqual({ reads: undefined, writes: 5, authFailures: undefined });
  expect(config.corsOrigins).toEqual(["https://a.test", "https://b.test"]);
  expect(loadServerConfig({}).corsOrigins).toBe("*");
  expect(() => loadServerConfig({ COVE_RATE_LIMIT_READS: "lots" })).toThrow(
    /COVE_RATE_LIMIT_READS must be a positive whole number/,
  );
});
