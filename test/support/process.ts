/** Stops a child process with a signal and resolves once it has exited (shared with the benchmarks). */
export { stopProcess } from '../../bench/processes.js';
