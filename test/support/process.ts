/** Stops a child process with a signal and resolves once it has exited. */
import type { ChildProcess } from 'node:child_process';

export async function stopProcess(proc: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    proc.once('exit', () => resolve());
    proc.kill(signal);
  });
}
