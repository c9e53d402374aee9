/**
 * The type-level suite: the sample programs of `test/types` (written in the shape of Hatchet's
 * TypeScript examples, with only the import path changed) type-check in strict mode against the
 * built package, as an application that depends on it sees it, under every module resolution
 * mode such projects use. Lines marked `// @ts-expect-error` must be errors: an unused marker
 * fails the check too, so the suite catches types that got looser as well as stricter.
 */
import { join } from 'node:path';
import t from 'tap';
import { type ConsumerProject, consumerProject, copySamples, repoRoot, run } from '../support/consumer-project.js';

const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');

const modes: Array<{ name: string; packageType: 'commonjs' | 'module'; compilerOptions: Record<string, unknown>; relativeExtension?: string }> = [
  { name: 'moduleResolution node (node10), CommonJS', packageType: 'commonjs', compilerOptions: { module: 'commonjs', moduleResolution: 'node10' } },
  { name: 'moduleResolution node16, CommonJS', packageType: 'commonjs', compilerOptions: { module: 'node16', moduleResolution: 'node16' } },
  { name: 'moduleResolution nodenext, ES modules', packageType: 'module', compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext' }, relativeExtension: '.js' },
  { name: 'moduleResolution bundler', packageType: 'module', compilerOptions: { module: 'esnext', moduleResolution: 'bundler' } },
];

async function check(project: ConsumerProject, compilerOptions: Record<string, unknown>) {
  project.write(
    'tsconfig.json',
    JSON.stringify({
      compilerOptions: { strict: true, noEmit: true, target: 'es2022', esModuleInterop: true, skipLibCheck: false, types: ['node'], ...compilerOptions },
      include: ['samples/*.ts'],
    }),
  );
  return run(process.execPath, [tsc, '-p', project.dir], { cwd: project.dir });
}

t.test('the sample programs type-check against the package under each module resolution', async (t) => {
  const projects = modes.map((mode) => {
    const project = consumerProject({ type: mode.packageType });
    const files = copySamples(project, 'samples', mode.relativeExtension === undefined ? {} : { relativeExtension: mode.relativeExtension });
    return { mode, project, files };
  });
  t.teardown(() => {
    for (const { project } of projects) project.dispose();
  });
  t.ok((projects[0]?.files.length ?? 0) >= 12, `${projects[0]?.files.length} sample programs`);
  // Two at a time: one per core.
  for (let i = 0; i < projects.length; i += 2) {
    const results = await Promise.all(projects.slice(i, i + 2).map(async (entry) => ({ entry, result: await check(entry.project, entry.mode.compilerOptions) })));
    for (const { entry, result } of results) {
      t.equal(result.code, 0, `${entry.mode.name}: no type errors, every expected error found${result.output === '' ? '' : `\n${result.output}`}`);
    }
  }
});

t.test('a wrong program fails the check with the error Hatchet would report', async (t) => {
  const project = consumerProject({ type: 'commonjs' });
  t.teardown(() => project.dispose());
  project.write(
    'samples/wrong.ts',
    `import { HatchetClient } from 'kindling/v1';
const hatchet = HatchetClient.init();
const simple = hatchet.task({ name: 'simple', fn: (input: { Message: string }) => ({ Out: input.Message }) });
export async function main() {
  const out = await simple.run({ Message: 'x' });
  const n: number = out.Out;
  // @ts-expect-error nothing is wrong on the next line, so this marker is unused
  const fine: string = out.Out;
  return [n, fine];
}
`,
  );
  const result = await check(project, { module: 'commonjs', moduleResolution: 'node10' });
  t.not(result.code, 0);
  t.match(result.output, /wrong\.ts\(6,9\): error TS2322: Type 'string' is not assignable to type 'number'/);
  t.match(result.output, /wrong\.ts\(7,3\): error TS2578: Unused '@ts-expect-error' directive/);
});
