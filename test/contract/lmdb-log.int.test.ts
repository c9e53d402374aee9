import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { LmdbLog } from '../../store/lmdb.js';
import { logConformance } from './log-conformance.js';

const root = mkdtempSync(join(tmpdir(), 'kindling-lmdb-contract-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

logConformance(t, { fresh: () => LmdbLog.open({ path: join(root, `log-${n++}`) }) });
