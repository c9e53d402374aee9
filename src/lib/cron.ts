/**
 * Cron expressions, on `cron-parser`: five fields (minute hour day-of-month month day-of-week) or
 * six (a leading seconds field), or an `@alias` such as `@daily`; always in UTC.
 *
 * `cron-parser` accepts an empty string and fewer than five fields as "every minute", so the
 * field count is checked here first.
 */
import { CronExpressionParser } from 'cron-parser';
import { KindlingError } from './errors.js';

export class CronError extends KindlingError {
  override readonly name = 'CronError';
  constructor(message: string) {
    super('INVALID_INPUT', message, false);
  }
}

/** Longest expression accepted, in characters. */
export const CRON_EXPRESSION_CHARS_MAX = 200;

/** Checks an expression; throws a `CronError` that says what is wrong with it. */
export function checkCron(expression: string): void {
  const trimmed = expression.trim();
  if (trimmed.length === 0 || trimmed.length > CRON_EXPRESSION_CHARS_MAX) {
    throw new CronError(`'${expression}' is not a cron expression: give 5 fields (minute hour day month weekday) or 6 (seconds first)`);
  }
  const fields = trimmed.split(/\s+/).length;
  if (!trimmed.startsWith('@') && fields !== 5 && fields !== 6) {
    throw new CronError(`'${expression}' has ${fields} fields; a cron expression has 5 (minute hour day month weekday) or 6 (seconds first)`);
  }
  try {
    CronExpressionParser.parse(trimmed, { tz: 'UTC', currentDate: new Date(0) }).next();
  } catch (error) {
    throw new CronError(`'${expression}' is not a valid cron expression: ${(error as Error).message}`);
  }
}

/** The first time strictly after `afterMs` that the expression names (UTC), or undefined when none does. */
export function nextCronTick(expression: string, afterMs: number): number | undefined {
  try {
    const iterator = CronExpressionParser.parse(expression.trim(), { tz: 'UTC', currentDate: new Date(afterMs) });
    if (!iterator.hasNext()) return undefined;
    const next = iterator.next().getTime();
    return next > afterMs ? next : undefined;
  } catch {
    return undefined;
  }
}
