// The shared client of the samples, as Hatchet's examples keep it in its own module.
import { HatchetClient } from 'kindling/v1';

export const hatchet = HatchetClient.init();
