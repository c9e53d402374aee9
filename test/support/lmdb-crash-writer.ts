/**
 * A child process for the LMDB crash test: appends to the log at argv[2] as fast as it can from
 * several concurrent loops and prints one line per acknowledged append — `stream lastSeq` — until
 * it is killed. Pipes to the parent are synchronous on Linux, so a printed line is an ack the
 * parent saw before the kill.
 */
import { LmdbLog } from '../../store/lmdb.js';
import { expectedData } from './lmdb-crash-writer-data.js';

const path = process.argv[2];
const loops = Number(process.argv[3] ?? 8);
if (path === undefined) throw new Error('usage: lmdb-crash-writer <dir> [loops]');

const log = await LmdbLog.open({ path });
process.stdout.write('ready\n');

async function loop(id: number): Promise<never> {
  for (let round = 0; ; round++) {
    const stream = `crash:${id}:${round % 5}`;
    const version = await log.streamVersion(stream);
    const count = 1 + ((round + id) % 4);
    const events = Array.from({ length: count }, (_, i) => ({ type: 'Wrote', data: expectedData(stream, version + i + 1) }));
    const result = await log.append(stream, events, { expectedVersion: version });
    process.stdout.write(`${stream} ${result.lastSeq}\n`);
  }
}

await Promise.all(Array.from({ length: loops }, (_, id) => loop(id)));
