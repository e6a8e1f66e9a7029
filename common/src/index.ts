/** Runtime helpers shared by every Cove server. */

export * from "./cors.js";
export * from "./error-interceptor.js";
export * from "./error-reason.js";
export * from "./errors.js";
export * from "./forward-call.js";
export * from "./forward-headers.js";
export * from "./health.js";
export * from "./image-reference.js";
export * from "./last-resort.js";
export * from "./listen.js";
export * from "./logger.js";
export * from "./message-validation.js";
export * from "./reflection.js";
export * from "./rpc-errors.js";
export * from "./server.js";
export * from "./session-pool.js";
export * from "./streams.js";
export * from "./supervisor.js";
export * from "./unknown-method.js";
