import t from 'tap';
import { MemoryLog } from '../../store/memory.js';
import { logConformance } from './log-conformance.js';

logConformance(t, { fresh: async () => new MemoryLog() });
