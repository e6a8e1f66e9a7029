/** Runtime helpers shared by every Cove server. */
export * from "./health.js";
export * from "./listen.js";
export * from "./reflection.js";
export * from "./server.js";
export * from "./unknown-method.js";
export * from "./error-interceptor.js";
export * from "./errors.js";
export * from "./logger.js";
export * from "./streams.js";
