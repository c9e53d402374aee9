/**
 * The Kindling SDK, source-compatible with Hatchet's TypeScript v1 SDK: `import Hatchet from
 * 'kindling'` or `import { HatchetClient } from 'kindling/v1'`. The package root exports what
 * `kindling/v1` does, plus the default export and the `Hatchet` alias.
 */
import { HatchetClient } from './client.js';

export * as APIContracts from './api-contracts.js';
export * from './v1.js';
export { HatchetClient as Hatchet };
export default HatchetClient;
