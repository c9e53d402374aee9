/**
 * The live progress line on stderr. On a terminal it rewrites one line in place; asked for with
 * `--progress` when stderr is not a terminal (a CI log) it prints a plain line at most once a
 * second. Otherwise it prints nothing, so piped output stays clean.
 */
export interface Progress {
  update(line: string): void;
  clear(): void;
}

export function progressLine(options: { forced: boolean; stream?: NodeJS.WriteStream }): Progress {
  const stream = options.stream ?? process.stderr;
  const tty = stream.isTTY === true;
  if (!tty && !options.forced) return { update() {}, clear() {} };
  let lastAt = 0;
  let shown = false;
  return {
    update(line) {
      const at = Date.now();
      if (tty) {
        if (at - lastAt < 100) return;
        const width = (stream.columns ?? 120) - 1;
        stream.write(`\r\x1b[K${line.slice(0, width)}`);
        shown = true;
      } else {
        if (at - lastAt < 1000) return;
        stream.write(`${line}\n`);
      }
      lastAt = at;
    },
    clear() {
      if (tty && shown) stream.write('\r\x1b[K');
      shown = false;
      lastAt = 0;
    },
  };
}
