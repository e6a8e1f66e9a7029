// What every command runs with: its streams and the settings (read on first use).
import { type ResolvedConfig, resolveConfig } from "./config.js";
import type { Io } from "./output.js";

/** The context a command's run function gets. */
export interface Context {
  /** The command's streams and environment. */
  io: Io;
  /** config reads the settings (config file + environment) on first use. */
  config(): ResolvedConfig;
}

/** createContext makes a context whose settings are read when first asked for. */
export function createContext(io: Io): Context {
  let config: ResolvedConfig | undefined;
  return {
    io,
    config() {
      config ??= resolveConfig(io.env);
      return config;
    },
  };
}
