/**
 * OpenTelemetry spans, through the standard `@opentelemetry/api`: a PRODUCER span for each trigger
 * (`hatchet.run_workflow`, `hatchet.run_workflows`, `hatchet.push_event`, `hatchet.bulk_push_event`)
 * and a CONSUMER span (`hatchet.start_step_run`) for each task a worker runs, its parent the
 * trigger's span: the trigger writes the W3C trace context into the run's additional metadata
 * (`traceparent`, `tracestate`), and the worker reads it back.
 *
 * The API does nothing unless the program installed a tracer provider (an OpenTelemetry SDK);
 * until then `tracingOn()` is false, and no span, carrier or context is made at all.
 */
import { type Attributes, type Context, context, ProxyTracerProvider, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';

const TRACER_NAME = 'kindling';
const TRACER_VERSION = '0.1.0';
/** What the API's global provider delegates to while no SDK is installed. */
const NOOP_PROVIDER = new ProxyTracerProvider().getDelegate();
/** The key in additional metadata is W3C's `traceparent`, whatever propagator the program set. */
const w3c = new W3CTraceContextPropagator();
const metadataSetter = {
  set(carrier: Record<string, string>, key: string, value: string) {
    carrier[key] = value;
  },
};
const metadataGetter = {
  keys: (carrier: Record<string, string>) => Object.keys(carrier),
  get: (carrier: Record<string, string>, key: string) => carrier[key],
};

/** Whether a tracer provider is installed (checked at each call: a program may install one late). */
export function tracingOn(): boolean {
  const provider = trace.getTracerProvider();
  return !(provider instanceof ProxyTracerProvider && provider.getDelegate() === NOOP_PROVIDER);
}

function tracer() {
  return trace.getTracer(TRACER_NAME, TRACER_VERSION);
}

/** A producer span, child of the active one, and the metadata fields that carry it. */
export function producerSpan(name: string, attributes: Attributes): { span: Span; carrier: Record<string, string> } | undefined {
  if (!tracingOn()) return undefined;
  const span = tracer().startSpan(name, { kind: SpanKind.PRODUCER, attributes: { instrumentor: 'hatchet', ...attributes } });
  const carrier: Record<string, string> = {};
  w3c.inject(trace.setSpan(context.active(), span), carrier, metadataSetter);
  return { span, carrier };
}

/** Ends a span, as failed when `error` is given. */
export function endSpan(span: Span, error?: unknown): void {
  if (error !== undefined) {
    span.recordException(error instanceof Error ? error : String(error));
    span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
  }
  span.end();
}

/**
 * Runs `fn` inside a producer span: `fn` gets the carrier to put in the runs' (or events')
 * metadata, or `undefined` when tracing is off (then this is just `fn()`, what it throws a
 * rejection).
 */
export function traced<T>(name: string, attributes: Attributes, fn: (carrier: Record<string, string> | undefined) => Promise<T>, onResult?: (span: Span, result: T) => void): Promise<T> {
  let made: ReturnType<typeof producerSpan>;
  try {
    made = producerSpan(name, attributes);
    if (made === undefined) return fn(undefined);
  } catch (error) {
    return Promise.reject(error);
  }
  return inSpan(made, fn, onResult);
}

async function inSpan<T>(made: { span: Span; carrier: Record<string, string> }, fn: (carrier: Record<string, string>) => Promise<T>, onResult?: (span: Span, result: T) => void): Promise<T> {
  try {
    const result = await fn(made.carrier);
    onResult?.(made.span, result);
    endSpan(made.span);
    return result;
  } catch (error) {
    endSpan(made.span, error);
    throw error;
  }
}

/**
 * A consumer span for a task run, its parent the trace context in the run's metadata (or the
 * active context when there is none), and the context to run the task in. Its attributes are made
 * only when there is a span to give them to.
 */
export function consumerSpan(name: string, metadata: Readonly<Record<string, string>>, attributes: () => Attributes): { span: Span; context: Context } | undefined {
  if (!tracingOn()) return undefined;
  const parent = metadata.traceparent === undefined ? context.active() : w3c.extract(context.active(), metadata as Record<string, string>, metadataGetter);
  const span = tracer().startSpan(name, { kind: SpanKind.CONSUMER, attributes: { instrumentor: 'hatchet', ...attributes() } }, parent);
  return { span, context: trace.setSpan(parent, span) };
}

/** Runs `fn` with `ctx` as the active context (the task's span the parent of what it starts). */
export function withContext<T>(ctx: Context, fn: () => T): T {
  return context.with(ctx, fn);
}
