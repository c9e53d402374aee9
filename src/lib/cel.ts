/**
 * CEL expressions — event filters, event and parent conditions, durable event waits, concurrency
 * and rate-limit keys — on `@marcbachmann/cel-js`: parsed once, when the thing that holds them is
 * created (a bad expression is refused there with a clear error, never at event time), cached by
 * their text, and evaluated against JSON values.
 *
 * Evaluation is pure (no clock, no I/O), so deciders in `actors/` may evaluate too. Two traits of
 * the library are handled here once: JSON numbers are CEL doubles (comparisons with integer
 * literals work; arithmetic needs `1.0`), and an integer result is a BigInt. For conditions and
 * filters (`celMatches`, `celString`) an expression that fails while evaluating (a missing field, a
 * type error) counts as not matching; for keys and numbers (`celKey`, `celInteger`) it is an error.
 */
import { Environment } from '@marcbachmann/cel-js';
import { BoundedMap } from './bounded-map.js';
import { KindlingError } from './errors.js';

const environment = new Environment({ unlistedVariablesAreDyn: true, homogeneousAggregateLiterals: false });

type Program = (context: Record<string, unknown>) => unknown;

/** Parsed expressions by source, so each distinct expression is parsed once (the newest 10,000). */
const programs = new BoundedMap<string, Program>(10_000);

/** Longest expression accepted, in characters. */
export const CEL_EXPRESSION_CHARS_MAX = 4096;

export class CelError extends KindlingError {
  override readonly name = 'CelError';
  constructor(message: string) {
    super('INVALID_INPUT', message, false);
  }
}

function program(expression: string): Program {
  let compiled = programs.get(expression);
  if (compiled === undefined) {
    compiled = environment.parse(expression) as unknown as Program;
    programs.set(expression, compiled);
  }
  return compiled;
}

/** Checks that `expression` is CEL this engine can evaluate; throws a `CelError` naming `what` otherwise. */
export function checkCel(expression: string, what: string): void {
  if (expression.length > CEL_EXPRESSION_CHARS_MAX) throw new CelError(`${what}: the expression is ${expression.length} characters; the limit is ${CEL_EXPRESSION_CHARS_MAX}`);
  try {
    program(expression);
  } catch (error) {
    const detail = (error as Error).message.split('\n')[0] ?? 'not CEL';
    throw new CelError(`${what}: '${expression}' is not a valid CEL expression: ${detail}`);
  }
}

/**
 * Whether `expression` holds for `context`. An empty expression holds always; an error while
 * evaluating, or a result that is not `true`, does not.
 */
export function celMatches(expression: string, context: Record<string, unknown>): boolean {
  if (expression.trim() === '') return true;
  try {
    return program(expression)(context) === true;
  } catch {
    return false;
  }
}

/**
 * A filter expression evaluated the way a debugger shows it: its boolean result, or why it has
 * none (it is not CEL, it failed while evaluating, or it is not a boolean).
 */
export function celDebug(expression: string, context: Record<string, unknown>): { ok: true; value: boolean } | { ok: false; error: string } {
  try {
    checkCel(expression, 'the expression');
    const value = program(expression)(context);
    if (typeof value !== 'boolean') return { ok: false, error: `the expression evaluated to ${typeof value === 'bigint' ? 'an int' : `a ${value === null ? 'null' : typeof value}`}, not a boolean` };
    return { ok: true, value };
  } catch (error) {
    return { ok: false, error: (error as Error).message.split('\n')[0] ?? 'the expression failed' };
  }
}

/** The value of `expression` for `context` as a string (for keys); undefined when it fails. */
export function celString(expression: string, context: Record<string, unknown>): string | undefined {
  try {
    const value = program(expression)(context);
    if (typeof value === 'string') return value;
    if (typeof value === 'bigint' || typeof value === 'number' || typeof value === 'boolean') return String(value);
    return value === null || value === undefined ? undefined : JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? String(v) : v));
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Expressions that must yield a value (concurrency and rate-limit keys, units, limits): an error
// is an error, with what the expression was, not a "no".

/** The variables an expression over a run sees. */
export interface CelRunContext {
  readonly input: unknown;
  readonly additional_metadata: Record<string, string>;
}

/** Parses an expression (once; cached by its text); throws a `CelError` describing what is wrong. */
export function compileCel(expression: string): Program {
  try {
    return program(expression);
  } catch (error) {
    throw new CelError(`'${expression}' is not a valid CEL expression: ${firstLine(error)}`);
  }
}

function firstLine(error: unknown): string {
  return String((error as Error)?.message ?? error).split('\n')[0] as string;
}

function evaluate(expression: string, context: CelRunContext): unknown {
  const compiled = compileCel(expression);
  try {
    return compiled({ input: context.input ?? {}, additional_metadata: context.additional_metadata });
  } catch (error) {
    throw new CelError(`'${expression}' could not be evaluated: ${firstLine(error)}`);
  }
}

/** Evaluates an expression that makes a key: a string, or a number or boolean written as one. */
export function celKey(expression: string, context: CelRunContext): string {
  const value = evaluate(expression, context);
  if (typeof value === 'string') return value;
  if (typeof value === 'bigint' || typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new CelError(`'${expression}' must evaluate to a string, not ${value === null ? 'null' : typeof value}`);
}

/** Evaluates an expression that makes a whole number (units, a limit). */
export function celInteger(expression: string, context: CelRunContext): number {
  const value = evaluate(expression, context);
  const number = typeof value === 'bigint' ? Number(value) : typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(number)) throw new CelError(`'${expression}' must evaluate to a whole number, not ${JSON.stringify(typeof value === 'bigint' ? String(value) : value)}`);
  return number;
}
