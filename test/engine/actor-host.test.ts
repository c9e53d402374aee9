/**
 * The actor host, on the memory log with acknowledgements held back: pipelined appends, in-order
 * effects, acknowledgements only after durability, recovery from a failed append, backpressure.
 * A counter is the decider: `Add n` appends `Added n`; `Noop` decides nothing; `Stop` ends it.
 */
import t from 'tap';
import { ActorHost, type ActorHostOptions, type Decider } from '../../src/engine/actor-host.js';
import { engineLimits } from '../../src/lib/limits.js';
import { logErrors } from '../../store/errors.js';
import type { AppendOptions, AppendResult, EventLog, NewEvent } from '../../store/log.js';
import { MemoryLog } from '../../store/memory.js';

type Command = { type: 'Add'; n: number } | { type: 'Mark' } | { type: 'Noop' } | { type: 'Stop' };
type Event = { type: 'Added'; n: number } | { type: 'Marked' } | { type: 'Stopped' };
interface State {
  readonly total: number;
  readonly stopped: boolean;
}

const counter: Decider<State, Command, Event> = {
  initialState: () => ({ total: 0, stopped: false }),
  decide: (state, command) => {
    if (state.stopped) return [];
    if (command.type === 'Add') return [{ type: 'Added', n: command.n }];
    if (command.type === 'Mark') return [{ type: 'Marked' }];
    return command.type === 'Stop' ? [{ type: 'Stopped' }] : [];
  },
  evolve: (state, event) => {
    if (event.type === 'Added') return { ...state, total: state.total + event.n };
    return event.type === 'Stopped' ? { ...state, stopped: true } : state;
  },
  isActive: (state) => !state.stopped,
  deferrable: (event) => event.type === 'Marked',
};

/** A memory log whose appends are written at once but acknowledged only when released (an fsync in flight). */
class HeldLog {
  readonly inner = new MemoryLog();
  readonly held: Array<() => void> = [];
  failNext = false;

  asLog(): EventLog {
    return new Proxy(this.inner, {
      get: (target, key) => {
        if (key !== 'append') {
          const value = Reflect.get(target, key);
          return typeof value === 'function' ? value.bind(target) : value;
        }
        return (stream: string, events: readonly NewEvent[], options: AppendOptions) => {
          if (this.failNext) {
            this.failNext = false;
            return Promise.reject(logErrors.unavailable('the disk went away'));
          }
          const written = target.append(stream, events, options);
          return new Promise<AppendResult>((resolve, reject) => {
            // Settled as the write went, but only once released.
            const outcome = written.then(
              (result) => () => resolve(result),
              (error: unknown) => () => reject(error),
            );
            this.held.push(() => void outcome.then((settle) => settle()));
          });
        };
      },
    }) as EventLog;
  }

  releaseAll(): void {
    for (const release of this.held.splice(0)) release();
  }
}

function host(log: EventLog, deferMs = 10_000) {
  const applied: string[] = [];
  const decided: string[] = [];
  const reconciled: number[] = [];
  const actors = new ActorHost<State, Command, Event>({
    log,
    clock: () => 0,
    decider: counter,
    stream: (id) => `counter:${id}`,
    deferMs,
    effects: {
      applied: (_id, before, events, after) => applied.push(`${before.total}+${events.map((e) => (e.type === 'Added' ? e.n : e.type)).join(',')}=${after.total}`),
      decided: (_id, _before, events, _after, command) => decided.push(events.map((e) => e.type).join(',') || `(${command.type}: nothing)`),
      reconciled: (_id, state) => reconciled.push(state.total),
    },
  });
  return { actors, applied, decided, reconciled };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

t.test('actor host: commands are decided while earlier appends are in flight; each answers only once durable, effects in order', async (t) => {
  const held = new HeldLog();
  const { actors, applied, decided } = host(held.asLog());
  const answered: number[] = [];
  const sends = [1, 2, 3].map((n) => actors.send('a', { type: 'Add', n }).then(() => answered.push(n)));
  const noop = actors.send('a', { type: 'Noop' }).then(() => answered.push(0));
  await turn();
  t.same(decided, ['Added', 'Added', 'Added', '(Noop: nothing)'], 'all four decided without waiting for durability, in order');
  t.equal(actors.peek('a')?.total, 6, 'the decided state includes the events in flight');
  t.equal(actors.peekDurable('a')?.total, 0, 'the durable state does not');
  t.equal(held.held.length, 3, 'three appends in flight at once');
  t.same(answered, [], 'nothing is acknowledged before it is durable');
  t.same(applied, []);
  held.releaseAll();
  await Promise.all([...sends, noop]);
  t.same(applied, ['0+1=1', '1+2=3', '3+3=6'], 'effects see each append once, in stream order');
  t.same(answered, [1, 2, 3, 0], 'a command that decided nothing answers after the appends before it');
  t.same((await held.inner.readStream('counter:a')).map((r) => r.seq), [1, 2, 3]);
});

t.test('actor host: a failed append fails the appends decided on top of it; the actor reloads and carries on', async (t) => {
  const held = new HeldLog();
  const log = held.asLog();
  const { actors, applied, reconciled } = host(log);
  const first = actors.send('a', { type: 'Add', n: 1 });
  await turn();
  held.failNext = true;
  const second = actors.send('a', { type: 'Add', n: 10 });
  const third = actors.send('a', { type: 'Add', n: 100 });
  await turn();
  held.releaseAll();
  t.same(await first, [{ type: 'Added', n: 1 }], 'the append before the failure landed and is acknowledged');
  await t.rejects(second, { code: 'LOG_UNAVAILABLE' }, 'the failed one is refused');
  await t.rejects(third, { code: 'LOG_UNAVAILABLE' }, 'the one decided on top of it cannot land without a gap: refused with the cause');
  t.same(reconciled, [1], 'reloaded from the log: only what landed');
  t.equal(actors.peek('a')?.total, 1);
  const fourth = actors.send('a', { type: 'Add', n: 1000 });
  await turn();
  held.releaseAll();
  await fourth;
  t.equal(actors.peek('a')?.total, 1001, 'later commands are decided against the reloaded state');
  t.same(applied, ['0+1=1', '1+1000=1001']);
  t.same((await held.inner.readStream('counter:a')).map((r) => (r.data as { n: number }).n), [1, 1000], 'no gap, no lost or doubled event');
});

t.test('actor host: an actor that stops leaves memory once its appends are durable; the next command reloads it', async (t) => {
  const log = new MemoryLog();
  const { actors } = host(log);
  await actors.send('a', { type: 'Add', n: 5 });
  t.equal(actors.activeCount, 1);
  await actors.send('a', { type: 'Stop' });
  t.equal(actors.activeCount, 0, 'passivated');
  t.same(await actors.send('a', { type: 'Add', n: 1 }), [], 'activated again from the log: still stopped');
  t.equal(actors.activeCount, 0);
});

t.test('actor host: a full mailbox refuses with ENGINE_BUSY and the actor keeps working', async (t) => {
  const held = new HeldLog();
  const { actors } = host(held.asLog());
  const accepted = Array.from({ length: engineLimits.mailboxCommandsMax }, () => actors.send('a', { type: 'Add', n: 1 }));
  await t.rejects(actors.send('a', { type: 'Add', n: 1 }), { code: 'ENGINE_BUSY' });
  await turn();
  held.releaseAll();
  await Promise.all(accepted);
  t.equal(actors.peek('a')?.total, engineLimits.mailboxCommandsMax);
  const after = actors.send('a', { type: 'Add', n: 1 });
  await turn();
  held.releaseAll();
  await after;
  t.equal(actors.peek('a')?.total, engineLimits.mailboxCommandsMax + 1, 'accepting again once it drained');
});

t.test('actor host: deferrable events are written with the next append, and answer when it is durable', async (t) => {
  const held = new HeldLog();
  const { actors, applied } = host(held.asLog());
  const marked = actors.send('a', { type: 'Mark' });
  const noop = actors.send('a', { type: 'Noop' });
  await turn();
  t.equal(held.held.length, 0, 'nothing written for a deferrable event alone');
  const added = actors.send('a', { type: 'Add', n: 2 });
  await turn();
  t.equal(held.held.length, 1, 'the next append carries it');
  held.releaseAll();
  t.same(await marked, [{ type: 'Marked' }]);
  t.same(await noop, []);
  t.same(await added, [{ type: 'Added', n: 2 }]);
  t.same(applied, ['0+Marked,2=2'], 'one append, in decision order');
  t.same((await held.inner.readStream('counter:a')).map((r) => r.type), ['Marked', 'Added']);
});

t.test('actor host: deferrable events with no append after them are written alone after deferMs', async (t) => {
  const log = new MemoryLog();
  const { actors } = host(log, 20);
  const started = Date.now();
  t.same(await actors.send('a', { type: 'Mark' }), [{ type: 'Marked' }]);
  t.ok(Date.now() - started >= 15, 'written after the delay');
  t.same((await log.readStream('counter:a')).map((r) => r.type), ['Marked']);
});

t.test('actor host: deferred events of many actors, deferred at different times, are each written alone about deferMs later; one taken along by an append is written once', async (t) => {
  const log = new MemoryLog();
  const { actors, applied } = host(log, 30);
  const started = performance.now();
  const first = ['a', 'b'].map((id) => actors.send(id, { type: 'Mark' }).then(() => performance.now() - started));
  await new Promise((resolve) => setTimeout(resolve, 15));
  const later = ['c', 'd'].map((id) => actors.send(id, { type: 'Mark' }).then(() => performance.now() - started));
  // 'a' appends before its deferred mark is due: the mark goes with that append, not on its own.
  t.same(await actors.send('a', { type: 'Add', n: 2 }), [{ type: 'Added', n: 2 }]);
  const [a, b] = await Promise.all(first);
  const [c, d] = await Promise.all(later);
  t.ok((a as number) < (b as number), `'a' answered with its append (${Math.round(a as number)} ms), before 'b' waited out the delay`);
  t.ok((b as number) >= 25, `'b' written after the delay (${Math.round(b as number)} ms)`);
  t.ok((c as number) >= 40 && (d as number) >= 40, `'c' and 'd' written a delay after they deferred (${Math.round(c as number)}, ${Math.round(d as number)} ms)`);
  for (const id of ['a', 'b', 'c', 'd']) t.same((await log.readStream(`counter:${id}`)).map((r) => r.type), id === 'a' ? ['Marked', 'Added'] : ['Marked'], `${id}'s stream`);
  t.same(applied.filter((entry) => entry.includes('Marked')).length, 4, 'each deferred batch applied once');
});

t.test('actor host: deferred events decided on top of a failed append are refused with it', async (t) => {
  const held = new HeldLog();
  const { actors, reconciled } = host(held.asLog());
  held.failNext = true;
  const failed = actors.send('a', { type: 'Add', n: 1 });
  const marked = actors.send('a', { type: 'Mark' });
  await t.rejects(failed, { code: 'LOG_UNAVAILABLE' });
  await t.rejects(marked, { code: 'LOG_UNAVAILABLE' }, 'the deferred event never reaches the log');
  t.same(reconciled, [0]);
  const again = actors.send('a', { type: 'Add', n: 5 });
  await turn();
  held.releaseAll();
  await again;
  t.same((await held.inner.readStream('counter:a')).map((r) => r.type), ['Added'], 'only what was decided after the reload');
});

/** A host of counters on `log` with no effects, under the given memory budget. */
const counterHost = (log: EventLog, memory: NonNullable<ActorHostOptions<State, Command, Event>['memory']>) =>
  new ActorHost<State, Command, Event>({
    log,
    clock: () => 0,
    decider: counter,
    stream: (id) => `counter:${id}`,
    effects: { applied: () => {}, decided: () => {}, reconciled: () => {} },
    memory,
  });

t.test('actor host: idle active actors beyond the memory budget leave memory, least recently used first, and come back from the log', async (t) => {
  const log = new MemoryLog();
  const actors = counterHost(log, { bytesMax: 3, sizeOf: () => 1 });
  for (const id of ['a', 'b', 'c', 'd', 'e']) await actors.send(id, { type: 'Add', n: 1 });
  t.equal(actors.activeCount, 3, 'three fit the budget');
  t.same(actors.idle, { actors: 3, bytes: 3 });
  t.equal(actors.peek('a'), undefined, 'the least recently used went first');
  t.equal(actors.peek('e')?.total, 1);
  await actors.send('a', { type: 'Add', n: 10 });
  t.equal(actors.peek('a')?.total, 11, 'its next command found its state in the log');
  t.equal(actors.peek('c'), undefined, "bringing 'a' back pushed out the next least recently used");
  t.ok(actors.activeCount <= 3);
  await actors.send('e', { type: 'Stop' });
  t.equal(actors.peek('e'), undefined, 'a stopped actor leaves memory as before');
});

t.test('actor host: idle actors waiting for their turn keep to a budget of their own, the first to wait staying; the others come back from the log', async (t) => {
  const log = new MemoryLog();
  // An odd total waits (a queued run, say); an even one is on a worker and uses the other budget.
  const actors = counterHost(log, { bytesMax: 2, sizeOf: () => 1, waiting: { bytesMax: 3, is: (state) => state.total % 2 === 1 } });
  for (const id of ['a', 'b', 'c', 'd', 'e']) await actors.send(id, { type: 'Add', n: 1 });
  t.same(actors.waiting, { actors: 3, bytes: 3 }, 'three wait in memory');
  t.same(['a', 'b', 'c', 'd', 'e'].map((id) => actors.peek(id)?.total), [1, 1, 1, undefined, undefined], 'the first three to wait stayed; the later ones left at once');
  await actors.send('d', { type: 'Add', n: 10 });
  t.equal(actors.peek('d'), undefined, "'d' still waits and the budget is still full: it leaves again, its event in the log");
  t.same((await log.readStream('counter:d')).map((record) => record.data), [{ type: 'Added', n: 1 }, { type: 'Added', n: 10 }]);
  await actors.send('a', { type: 'Add', n: 1 });
  t.equal(actors.peek('a')?.total, 2, "'a' no longer waits: it moved to the other budget");
  t.same(actors.waiting, { actors: 2, bytes: 2 });
  t.same(actors.idle, { actors: 3, bytes: 3 });
  await actors.send('e', { type: 'Add', n: 2 });
  t.equal(actors.peek('e')?.total, 3, "'e' came back from the log with its total, and took the place 'a' left");
  t.same(actors.waiting, { actors: 3, bytes: 3 });
  await actors.send('b', { type: 'Stop' });
  t.equal(actors.peek('b'), undefined, 'a stopped actor leaves memory…');
  t.same(actors.waiting, { actors: 2, bytes: 2 }, '…and gives its place back');
});

t.test('actor host: a fresh actor is not read from the log; if its stream was not new, its command is refused and the actor reloaded', async (t) => {
  const log = new MemoryLog();
  await host(log).actors.send('a', { type: 'Add', n: 5 });
  const reads: string[] = [];
  const counted = new Proxy(log, {
    get: (target, key) => {
      const value = Reflect.get(target, key);
      if (key === 'readStream' || key === 'loadSnapshot') {
        return (...args: unknown[]) => {
          reads.push(String(key));
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return typeof value === 'function' ? value.bind(target) : value;
    },
  }) as EventLog;
  const { actors, reconciled } = host(counted);
  t.same(await actors.send('new', { type: 'Add', n: 1 }, { fresh: true }), [{ type: 'Added', n: 1 }]);
  t.same(reads, [], 'a fresh actor reads nothing');
  await t.rejects(actors.send('a', { type: 'Add', n: 1 }, { fresh: true }), { code: 'LOG_CONFLICT' }, "'a' was not new: the append's expected version says so");
  t.same(reconciled, [5], 'reloaded from the log');
  t.same(await actors.send('a', { type: 'Add', n: 1 }), [{ type: 'Added', n: 1 }]);
  t.equal(actors.peek('a')?.total, 6);
});
