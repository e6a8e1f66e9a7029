/** Fields attached to a log line. */
export type LogFields = Record<string, unknown>;

/** Logger writes structured log lines; components receive one through their constructors. */
export interface Logger {
  /** debug logs detail useful only when chasing a problem. */
  debug(message: string, fields?: LogFields): void;
  /** info logs a normal event worth keeping. */
  info(message: string, fields?: LogFields): void;
  /** warn logs something unexpected that was handled. */
  warn(message: string, fields?: LogFields): void;
  /** error logs a failure, with the error under `err`. */
  error(message: string, fields?: LogFields): void;
  /** child returns a logger that adds the given fields to every line. */
  child(fields: LogFields): Logger;
}

const levels = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 } as const;

/** The level names a logger accepts. */
export type LogLevel = keyof typeof levels;

function serialize(value: unknown): unknown {
  if (value instanceof Error) {
    return {
      name: value.name,
      message: value.message,
      stack: value.stack,
      cause: serialize(value.cause),
    };
  }
  return value;
}

/** createLogger writes one JSON object per line to the given stream (stderr by default). */
export function createLogger(
  options: { level?: LogLevel; fields?: LogFields; write?: (line: string) => void } = {},
): Logger {
  const min = levels[options.level ?? "info"];
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const base = options.fields ?? {};
  const log =
    (level: Exclude<LogLevel, "silent">) =>
    (message: string, fields: LogFields = {}) => {
      if (levels[level] < min) return;
      const entry: LogFields = { time: new Date().toISOString(), level, msg: message, ...base };
      for (const [key, value] of Object.entries(fields)) entry[key] = serialize(value);
      write(`${JSON.stringify(entry)}\n`);
    };
  return {
    debug: log("debug"),
    info: log("info"),
    warn: log("warn"),
    error: log("error"),
    child: (fields) => createLogger({ ...options, fields: { ...base, ...fields } }),
  };
}
