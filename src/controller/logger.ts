import pino from "pino";

/** Structured JSON logs (pino). Controllers log with `controller`, reconciles add `namespace`, `name` and `reconcileID`. */
export type Logger = pino.Logger;

export interface LoggerOptions {
  level?: "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent";
  /** Fields on every line (e.g. the operator's name). */
  base?: Record<string, unknown>;
  /** Where lines go (default stdout). */
  destination?: NodeJS.WritableStream;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? ((process.env.CONVERGE_LOG_LEVEL as LoggerOptions["level"]) || "info");
  return pino(
    {
      level,
      base: options.base ?? null,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

/** A logger that drops everything (tests, libraries). */
export const silentLogger: Logger = pino({ level: "silent" });
