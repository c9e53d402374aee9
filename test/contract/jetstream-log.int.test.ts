import t from 'tap';
import { JetStreamLog } from '../../store/jetstream.js';
import { startNatsServer } from '../support/nats-server.js';
import { logConformance } from './log-conformance.js';

const server = await startNatsServer();
t.teardown(() => server.dispose());
let n = 0;

logConformance(t, { fresh: () => JetStreamLog.open({ servers: server.url, name: `contract${n++}` }) });
