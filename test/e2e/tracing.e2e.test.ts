/**
 * OpenTelemetry end to end: a real engine, a real worker over the WebSocket, and the OpenTelemetry
 * SDK (sdk-trace-base with an in-memory exporter, an AsyncLocalStorage context manager) installed
 * by the test as a program would. A trigger's PRODUCER span is the parent of the task's CONSUMER
 * span, through the `traceparent` the trigger puts in the run's metadata; spans the task makes are
 * children of its span. Before a provider is installed nothing is traced or added to metadata.
 */
import { context, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import t from 'tap';
import { HatchetClient } from '../../src/sdk/index.js';
import { type InProcessEngine, inProcessEngine } from '../support/in-process-engine.js';

let running: InProcessEngine;
let hatchet: HatchetClient;
const exporter = new InMemorySpanExporter();

t.before(async () => {
  running = await inProcessEngine();
  hatchet = HatchetClient.init({ token: running.tokens.default as string, host_port: running.hostPort, log_level: 'OFF' });
});
t.teardown(async () => {
  hatchet.close();
  await running.close();
});

const metadataSeen: Array<Record<string, string>> = [];
const spanOf = (name: string, where: (span: ReadableSpan) => boolean = () => true) => exporter.getFinishedSpans().find((span) => span.name === name && where(span));

t.test('trigger → task spans: parent and child across the engine', async (t) => {
  const greet = hatchet.task({
    name: 'greet',
    fn: (input: { who: string }, ctx) => {
      metadataSeen.push(ctx.additionalMetadata());
      // A span the task makes is a child of the task's span.
      trace.getTracer('test').startActiveSpan('inside-greet', (span) => span.end());
      return { hello: input.who };
    },
  });
  const onEvent = hatchet.task({ name: 'on-signup', onEvents: ['user:signup'], fn: (input: { id: number }) => ({ got: input.id }) });
  const fails = hatchet.task({
    name: 'fails',
    fn: () => {
      throw new Error('no luck');
    },
  });
  const worker = await hatchet.worker('traced-worker', { workflows: [greet, onEvent, fails], handleKill: false });
  void worker.start();
  t.teardown(() => worker.stop());
  await worker.waitUntilReady();

  // No tracer provider yet: no span, and no trace context in the run's metadata.
  t.same(await greet.run({ who: 'untraced' }), { hello: 'untraced' });
  t.notOk('traceparent' in (metadataSeen[0] ?? {}), 'without a provider the trigger adds nothing to the metadata');

  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  trace.setGlobalTracerProvider(provider);
  t.teardown(async () => {
    await provider.shutdown();
    trace.disable();
    context.disable();
  });
  t.equal(exporter.getFinishedSpans().length, 0, 'the untraced run made no spans');

  const outer = trace.getTracer('test').startSpan('program');
  const result = await context.with(trace.setSpan(context.active(), outer), () => greet.run({ who: 'traced' }, { additionalMetadata: { source: 'test' } }));
  outer.end();
  t.same(result, { hello: 'traced' });

  const producer = spanOf('hatchet.run_workflow');
  const consumer = spanOf('hatchet.start_step_run', (span) => span.attributes['hatchet.workflow_name'] === 'greet');
  const inside = spanOf('inside-greet');
  if (producer === undefined || consumer === undefined || inside === undefined) {
    t.fail(`missing spans: ${exporter.getFinishedSpans().map((span) => span.name).join(', ')}`);
    return;
  }
  t.equal(producer.kind, SpanKind.PRODUCER);
  t.equal(producer.parentSpanContext?.spanId, outer.spanContext().spanId, "the trigger's span is a child of the program's");
  t.match(producer.attributes, { instrumentor: 'hatchet', 'hatchet.step_name': 'greet', 'hatchet.child_workflow_run_id': /.+/ });
  t.equal(consumer.kind, SpanKind.CONSUMER);
  t.equal(consumer.spanContext().traceId, producer.spanContext().traceId, 'one trace');
  t.equal(consumer.parentSpanContext?.spanId, producer.spanContext().spanId, "the task's span is a child of the trigger's");
  t.match(consumer.attributes, {
    instrumentor: 'hatchet',
    'hatchet.tenant_id': 'default',
    'hatchet.worker_id': worker.workerId as string,
    'hatchet.workflow_run_id': producer.attributes['hatchet.child_workflow_run_id'] as string,
    'hatchet.step_run_id': /.+/,
    'hatchet.workflow_name': 'greet',
    'hatchet.action_name': 'greet:greet',
    'hatchet.step_name': 'greet',
    'hatchet.retry_count': 0,
  });
  t.equal(inside.parentSpanContext?.spanId, consumer.spanContext().spanId, "a span made in the task is a child of the task's");
  const traced = metadataSeen[1] ?? {};
  t.match(traced, { source: 'test', traceparent: new RegExp(`^00-${producer.spanContext().traceId}-${producer.spanContext().spanId}-01$`) }, 'the W3C trace context rides in the metadata');

  // An event's push is a producer too; the run it starts is traced under it.
  await hatchet.events.push('user:signup', { id: 7 });
  const eventConsumerOf = () => spanOf('hatchet.start_step_run', (span) => span.attributes['hatchet.workflow_name'] === 'on-signup');
  for (const deadline = Date.now() + 10_000; eventConsumerOf() === undefined && Date.now() < deadline; ) await new Promise((resolve) => setTimeout(resolve, 20));
  const eventConsumer = eventConsumerOf();
  const push = spanOf('hatchet.push_event');
  t.equal(push?.kind, SpanKind.PRODUCER);
  t.equal(push?.attributes['hatchet.event_key'], 'user:signup');
  t.equal(eventConsumer?.parentSpanContext?.spanId, push?.spanContext().spanId, "the event's run is a child of the push");

  // A bulk trigger is one span over its runs; a failing task's span says so.
  await t.rejects(fails.run({}));
  const failed = spanOf('hatchet.start_step_run', (span) => span.attributes['hatchet.workflow_name'] === 'fails');
  t.equal(failed?.status.code, 2, 'a failed task ends its span with status ERROR');
  t.match(failed?.status.message, /no luck/);
  await greet.run([{ who: 'a' }, { who: 'b' }]);
  const bulk = spanOf('hatchet.run_workflows');
  t.ok(bulk !== undefined, 'a bulk trigger has a hatchet.run_workflows span');
  const bulkChildren = exporter.getFinishedSpans().filter((span) => span.name === 'hatchet.start_step_run' && span.parentSpanContext?.spanId === bulk?.spanContext().spanId);
  t.equal(bulkChildren.length, 2, 'each run of the bulk trigger is its child');
});
