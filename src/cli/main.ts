#!/usr/bin/env node
/**
 * The `kindling` command line.
 *
 *   kindling start       open (or create) the embedded LMDB log, verify it, and keep it open
 *   kindling log verify  read every record of the log and check its checksum
 *   kindling log stat    print the log's size and head position
 *
 * The data directory comes from --data, else KINDLING_DATA_DIR, else ./.kindling.
 */
import { resolve } from 'node:path';
import { Command } from 'commander';
import { isLogError } from '../../store/errors.js';
import { LmdbLog } from '../../store/lmdb.js';
import { verifyLog } from '../../store/verify.js';

const dataDir = (option: string | undefined) => resolve(option ?? process.env.KINDLING_DATA_DIR ?? '.kindling');
const logDir = (data: string) => resolve(data, 'log');

const program = new Command('kindling').description('A durable task queue and workflow engine on an append-only event log.');

program
  .command('start')
  .description('open (or create) the embedded LMDB log, verify it, and keep it open until stopped')
  .option('--data <dir>', 'data directory (default: $KINDLING_DATA_DIR or ./.kindling)')
  .action(async (options: { data?: string }) => {
    const path = logDir(dataDir(options.data));
    const log = await LmdbLog.open({ path });
    const { records, headPosition } = await verifyLog(log);
    console.log(`kindling: log at ${path} is open and verified: ${records} records, head position ${headPosition}`);
    console.log('kindling: press Ctrl-C to stop');
    const stop = async (signal: string) => {
      await log.close();
      console.log(`kindling: ${signal}: log closed`);
      process.exit(0);
    };
    process.once('SIGINT', () => void stop('SIGINT'));
    process.once('SIGTERM', () => void stop('SIGTERM'));
    setInterval(() => {}, 1 << 30);
  });

const logCommand = program.command('log').description('inspect the embedded LMDB log');

/** Opens the data directory's log for one command and always closes it. */
async function withLog(options: { data?: string }, work: (log: LmdbLog) => Promise<void>): Promise<void> {
  const log = await LmdbLog.open({ path: logDir(dataDir(options.data)) });
  try {
    await work(log);
  } finally {
    await log.close();
  }
}

logCommand
  .command('verify')
  .description('read every record and check its checksum; exit 1 at the first damaged one')
  .option('--data <dir>', 'data directory')
  .action((options: { data?: string }) =>
    withLog(options, async (log) => {
      const { records, headPosition } = await verifyLog(log);
      console.log(`ok: ${records} records verified, head position ${headPosition}`);
    }),
  );

logCommand
  .command('stat')
  .description('print where the log is and its head position')
  .option('--data <dir>', 'data directory')
  .action((options: { data?: string }) =>
    withLog(options, async (log) => {
      console.log(JSON.stringify({ path: log.path, headPosition: await log.headPosition() }));
    }),
  );

try {
  await program.parseAsync();
} catch (error) {
  console.error(`kindling: ${isLogError(error) ? `${error.code}: ` : ''}${(error as Error).message}`);
  process.exit(1);
}
