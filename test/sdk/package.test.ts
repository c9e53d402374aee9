/**
 * The package's public face: `kindling` and `kindling/v1` resolve through package.json `exports`
 * (Node resolves a package's own name from inside it) to the SDK, shaped like Hatchet's.
 */
import t from 'tap';

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
