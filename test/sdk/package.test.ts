/**
 * The package's public face: `kindling`, `kindling/v1` and the `util/*` paths load with `import`
 * (ES modules) and with `require` (the CommonJS build), including under jest's CommonJS runtime
 * with no experimental flags, from an application that depends on the package — and a task
 * declared through the CommonJS build runs on the real engine.
 */
import { join } from 'node:path';
import t from 'tap';
import { consumerProject, repoRoot, run } from '../support/consumer-project.js';
import { startEngine } from '../support/engine-process.js';

t.test("'kindling' and 'kindling/v1' export the SDK, with HatchetClient as the default", async (t) => {
  const root = await import('kindling');
  const v1 = await import('kindling/v1');
  t.equal(root.default, root.HatchetClient);
  t.equal(root.Hatchet, root.HatchetClient);
  t.equal(v1.HatchetClient, root.HatchetClient, 'both paths are the same module');
  for (const name of ['HatchetClient', 'Hatchet', 'NonRetryableError', 'HatchetError', 'TaskRunTerminatedError', 'Context', 'Worker', 'WorkflowRunRef', 'WorkflowDeclaration', 'TaskWorkflowDeclaration', 'durationToMs']) {
    t.type((root as Record<string, unknown>)[name], 'function', name);
  }
  t.type(root.HatchetClient.init, 'function');
  const error = new root.NonRetryableError('x');
  t.ok(error instanceof Error && error.name === 'NonRetryableError');
});

t.test('require() and import() of every entry point give the same names', async (t) => {
  const project = consumerProject();
  t.teardown(() => project.dispose());
  const entries = ['kindling', 'kindling/v1', 'kindling/util/sleep', 'kindling/util/logger', 'kindling/v1/types', 'kindling/v1/conditions/parent-condition'];
  project.write(
    'names.cjs',
    `const out = {};
for (const entry of ${JSON.stringify(entries)}) out[entry] = Object.keys(require(entry)).sort();
out.file = require.resolve('kindling');
console.log(JSON.stringify(out));`,
  );
  project.write(
    'names.mjs',
    `const out = {};
for (const entry of ${JSON.stringify(entries)}) out[entry] = Object.keys(await import(entry)).filter((k) => k !== 'default' || entry !== 'kindling/v1').sort();
out.file = import.meta.resolve('kindling');
console.log(JSON.stringify(out));`,
  );
  const cjs = await run(process.execPath, ['names.cjs'], { cwd: project.dir });
  const esm = await run(process.execPath, ['names.mjs'], { cwd: project.dir });
  t.equal(cjs.code, 0, `require() works${cjs.code === 0 ? '' : `: ${cjs.output}`}`);
  t.equal(esm.code, 0, `import works${esm.code === 0 ? '' : `: ${esm.output}`}`);
  const required = JSON.parse(cjs.output) as Record<string, string[] | string>;
  const imported = JSON.parse(esm.output) as Record<string, string[] | string>;
  t.match(required.file, /build\/cjs\/src\/sdk\/index\.js$/, 'require() loads the CommonJS build');
  t.match(imported.file, /build\/src\/sdk\/index\.js$/, 'import loads the ES module build');
  for (const entry of entries) {
    t.same(required[entry], imported[entry], `${entry}: the same exports both ways`);
  }
  t.ok((required.kindling as string[]).length > 70, 'the root has the whole surface');
  t.same(required['kindling/util/sleep'], ['default', 'sleep']);
});

t.test("under jest's CommonJS runtime the package loads and a task runs on the engine", async (t) => {
  const engine = await startEngine();
  const project = consumerProject();
  t.teardown(async () => {
    project.dispose();
    await engine.dispose();
  });
  project.write(
    'sdk.test.js',
    `const { HatchetClient, NonRetryableError } = require('kindling');
const v1 = require('kindling/v1');
const sleep = require('kindling/util/sleep').default;

test('the CommonJS build runs a task end to end', async () => {
  expect(v1.HatchetClient).toBe(HatchetClient);
  expect(new NonRetryableError('x')).toBeInstanceOf(Error);
  const hatchet = HatchetClient.init({ log_level: 'ERROR' });
  const upper = hatchet.task({ name: 'jest-upper', fn: async (input) => {
    await sleep(10);
    return { upper: input.text.toUpperCase() };
  } });
  const worker = await hatchet.worker('jest-worker', { workflows: [upper], handleKill: false });
  void worker.start();
  await worker.waitUntilReady();
  await expect(upper.run({ text: 'from jest' })).resolves.toEqual({ upper: 'FROM JEST' });
  await worker.stop();
  hatchet.close();
});
`,
  );
  const jest = join(repoRoot, 'node_modules', 'jest', 'bin', 'jest.js');
  const result = await run(process.execPath, [jest, '--ci', '--runInBand', '--rootDir', project.dir, '--testEnvironment', 'node'], {
    cwd: project.dir,
    env: { HATCHET_CLIENT_TOKEN: engine.token, HATCHET_CLIENT_HOST_PORT: engine.hostPort, NODE_OPTIONS: '' },
  });
  t.equal(result.code, 0, `jest passed${result.code === 0 ? '' : `:\n${result.output}`}`);
  t.match(result.output, /Tests:\s+1 passed, 1 total/);
});
