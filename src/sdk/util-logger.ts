/** `kindling/util/logger`: the logger types, where Hatchet programs import them from. */
export { ConsoleLogger, DEFAULT_LOGGER, type LogConstructor, Logger, type LogLevel, LogLevelEnum } from './logger.js';
