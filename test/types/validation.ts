// Input validation with zod: the schema describes the input; the task's own types still rule.
import { z } from 'zod';
import { hatchet } from './hatchet-client';

const SimpleInput = z.object({
  Message: z.string(),
  Count: z.number().int().min(1).optional(),
});

export const simpleWithZod = hatchet.task({
  name: 'simple-with-zod',
  inputValidator: SimpleInput,
  fn: async (input: z.infer<typeof SimpleInput>) => ({ TransformedMessage: input.Message.toLowerCase() }),
});

export const validatedWorkflow = hatchet.workflow<{ id: string }>({
  name: 'validated-workflow',
  inputValidator: z.object({ id: z.string().uuid() }),
});

export const notASchema = hatchet.task({
  name: 'not-a-schema',
  // @ts-expect-error an inputValidator is a zod schema
  inputValidator: { type: 'object' },
  fn: () => ({ ok: true }),
});
