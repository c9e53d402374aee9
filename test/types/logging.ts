// Logging: ctx.logger inside tasks, and a bring-your-own logger for the client.
import Hatchet from 'kindling';
import type { Logger, LogLevel } from 'kindling/util/logger';
import type { JsonObject } from 'kindling/v1/types';
import sleep from 'kindling/util/sleep';

/** A stand-in for pino: any logger with these methods fits. */
const backend = {
  log: (level: string, extra: JsonObject | undefined, message: string) => console.log(level, message, extra),
};

class PinoLogger implements Logger {
  logLevel: LogLevel;
  context: string;

  constructor(context: string, logLevel: LogLevel = 'DEBUG') {
    this.logLevel = logLevel;
    this.context = context;
  }

  debug(message: string, extra?: JsonObject): void {
    backend.log('debug', extra, message);
  }

  info(message: string, extra?: JsonObject): void {
    backend.log('info', extra, message);
  }

  green(message: string, extra?: JsonObject): void {
    backend.log('info', extra, `%c${message}`);
  }

  warn(message: string, error?: Error, extra?: JsonObject): void {
    backend.log('warn', extra, `${message} ${error}`);
  }

  error(message: string, error?: Error, extra?: JsonObject): void {
    backend.log('error', extra, `${message} ${error}`);
  }

  util(key: string, _message: string, extra?: JsonObject): void {
    if (key === 'trace') backend.log('trace', extra, 'trace');
  }
}

const hatchet = Hatchet.init({
  log_level: 'DEBUG',
  logger: (ctx, level) => new PinoLogger(ctx, level),
});

export const badLevel = Hatchet.init({
  // @ts-expect-error log levels are OFF, DEBUG, INFO, WARN or ERROR
  log_level: 'VERBOSE',
});

const workflow = hatchet.workflow({
  name: 'logger-example',
  description: 'test',
  on: { event: 'user:create' },
});

workflow.task({
  name: 'logger-step1',
  fn: async (_, ctx) => {
    for (let i = 0; i < 10; i++) {
      ctx.logger.info(`log message ${i}`);
      await sleep(200);
    }
    ctx.logger.debug('details', { step: 1 });
    ctx.logger.warn('careful', { error: new Error('cause') });
    ctx.logger.error('broken', { extra: { code: 7 } });
    await ctx.log('plain line', 'WARN');
    return { step1: 'completed step run' };
  },
});

export async function readLogs(taskRunId: string) {
  const lines = await hatchet.logs.list(taskRunId, { limit: 100 });
  console.log(lines.rows?.length);
}
