/**
 * A throwaway project that depends on this package the way an application does: a temp directory
 * with `node_modules/kindling` linked to this repository (built), and the few packages the type
 * samples import. Tests load the package from there (`require`, `import`, jest) and type-check
 * the samples of `test/types` under each module resolution mode.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file runs from build/test/support). */
export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
/** The type samples, as written (they are not compiled into build/). */
export const samplesDir = join(repoRoot, 'test', 'types');

export interface ConsumerProject {
  readonly dir: string;
  write(path: string, text: string): void;
  dispose(): void;
}

export function consumerProject(packageJson: Record<string, unknown> = {}): ConsumerProject {
  const dir = mkdtempSync(join(tmpdir(), 'kindling-consumer-'));
  mkdirSync(join(dir, 'node_modules', '@types'), { recursive: true });
  symlinkSync(repoRoot, join(dir, 'node_modules', 'kindling'), 'dir');
  symlinkSync(join(repoRoot, 'node_modules', 'zod'), join(dir, 'node_modules', 'zod'), 'dir');
  symlinkSync(join(repoRoot, 'node_modules', '@types', 'node'), join(dir, 'node_modules', '@types', 'node'), 'dir');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, ...packageJson }));
  return {
    dir,
    write: (path, text) => {
      mkdirSync(join(dir, path, '..'), { recursive: true });
      writeFileSync(join(dir, path), text);
    },
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Copies the type samples into `project/<to>`; ESM projects need file extensions on relative imports. */
export function copySamples(project: ConsumerProject, to: string, options: { relativeExtension?: string } = {}): string[] {
  const files = readdirSync(samplesDir).filter((file) => file.endsWith('.ts'));
  cpSync(samplesDir, join(project.dir, to), { recursive: true });
  if (options.relativeExtension !== undefined) {
    for (const file of files) {
      const path = join(project.dir, to, file);
      writeFileSync(path, readFileSync(path, 'utf8').replace(/from '(\.\/[^']+)'/g, `from '$1${options.relativeExtension}'`));
    }
  }
  return files;
}

export interface Run {
  readonly code: number | null;
  readonly output: string;
}

/** Runs a command to its end (bounded by `timeoutMs`), with its stdout and stderr together. */
export function run(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}
