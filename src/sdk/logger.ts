/**
 * Loggers, as Hatchet's SDK shapes them: a `Logger` is made per context (`'HatchetClient'`,
 * `'ctx'`, …) by the client config's `logger` factory (`LogConstructor`); the default writes to the
 * console at `log_level` and above. A program may bring its own (pino, winston…) by passing a
 * factory; that logger then decides what to drop, since it is told the level when it is made.
 */

export type LogLevel = 'OFF' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

export enum LogLevelEnum {
  OFF = -1,
  DEBUG = 0,
  INFO = 1,
  WARN = 2,
  ERROR = 3,
}

export const LOG_LEVELS: readonly LogLevel[] = ['OFF', 'DEBUG', 'INFO', 'WARN', 'ERROR'];

// Loggers take any extra value (an object of fields, most often), as in Hatchet's Logger.
// biome-ignore-start lint/suspicious/noExplicitAny: the extra fields are the logger's own business.
export abstract class Logger {
  abstract debug(message: string, extra?: any): void;
  abstract info(message: string, extra?: any): void;
  abstract green(message: string, extra?: any): void;
  abstract warn(message: string, error?: Error, extra?: any): void;
  abstract error(message: string, error?: Error, extra?: any): void;
  /** Optional: named extra methods (a `trace`, say). */
  util?(key: string, message: string, extra?: any): void;
}
// biome-ignore-end lint/suspicious/noExplicitAny: see above.

/** Makes the logger of one context. */
export type LogConstructor = (context: string, logLevel?: LogLevel) => Logger;

function describe(extra: unknown): string {
  if (extra === undefined || extra === null) return '';
  if (typeof extra !== 'object') return ` ${String(extra)}`;
  if (Object.keys(extra).length === 0) return '';
  try {
    return ` ${JSON.stringify(extra)}`;
  } catch {
    return '';
  }
}

/** The default logger: one console line per message, `[LEVEL/context] message {extra}`. */
export class ConsoleLogger extends Logger {
  readonly #min: number;

  constructor(
    readonly context: string,
    readonly logLevel: LogLevel = 'INFO',
  ) {
    super();
    this.#min = logLevel === 'OFF' ? Number.POSITIVE_INFINITY : LogLevelEnum[logLevel];
  }

  #write(level: Exclude<LogLevel, 'OFF'>, write: (line: string) => void, message: string, extra?: unknown, error?: Error): void {
    if (LogLevelEnum[level] < this.#min) return;
    write(`[${level}/${this.context}] ${message}${error === undefined ? '' : ` ${error.message}`}${describe(extra)}`);
  }

  debug(message: string, extra?: unknown): void {
    this.#write('DEBUG', console.debug, message, extra);
  }

  info(message: string, extra?: unknown): void {
    this.#write('INFO', console.info, message, extra);
  }

  green(message: string, extra?: unknown): void {
    this.#write('INFO', console.info, message, extra);
  }

  warn(message: string, error?: Error, extra?: unknown): void {
    this.#write('WARN', console.warn, message, extra, error);
  }

  error(message: string, error?: Error, extra?: unknown): void {
    this.#write('ERROR', console.error, message, extra, error);
  }
}

export const DEFAULT_LOGGER: LogConstructor = (context, logLevel) => new ConsoleLogger(context, logLevel);
