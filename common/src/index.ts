/** Runtime helpers shared by every Cove server. */
export * from "./health.js";
export * from "./listen.js";
export * from "./reflection.js";
export * from "./server.js";
export * from "./unknown-method.js";
