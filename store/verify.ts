/**
 * Reads a whole log in pages and decodes every record, so any checksum or format damage surfaces as
 * LOG_CORRUPT_RECORD naming its position. Used at startup and by `kindling log verify`.
 */
import type { EventLog } from './log.js';

export async function verifyLog(log: EventLog): Promise<{ records: number; headPosition: number }> {
  let records = 0;
  let headPosition = 0;
  for (let page = await log.readAll(); page.length > 0; page = await log.readAll({ after: headPosition })) {
    records += page.length;
    headPosition = page[page.length - 1]?.position ?? headPosition;
  }
  return { records, headPosition };
}
