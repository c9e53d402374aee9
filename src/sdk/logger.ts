/** The SDK's logger: console output at `HATCHET_CLIENT_LOG_LEVEL` and above. */
import type { ClientConfig } from './config.js';

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

const LEVELS = ['DEBUG', 'INFO', 'WARN', 'ERROR'] as const;

export function consoleLogger(level: ClientConfig['log_level']): Logger {
  const min = level === 'OFF' ? 99 : LEVELS.indexOf(level);
  const at = (l: (typeof LEVELS)[number], write: (m: string) => void) => (message: string) => {
    if (LEVELS.indexOf(l) >= min) write(`[kindling ${l}] ${message}`);
  };
  return { debug: at('DEBUG', console.debug), info: at('INFO', console.info), warn: at('WARN', console.warn), error: at('ERROR', console.error) };
}

