/** Durations as Hatchet programs write them: `'10s'`, `'1h30m'`, `{ minutes: 5 }`, or milliseconds. */
export type DurationObject = { hours?: number; minutes?: number; seconds?: number };
export type Duration = string | number | DurationObject;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function durationToMs(duration: Duration): number {
  if (typeof duration === 'number') {
    if (!Number.isFinite(duration) || duration < 0) throw new Error(`invalid duration ${duration}: a number of milliseconds >= 0`);
    return duration;
  }
  if (typeof duration === 'object' && duration !== null) {
    return ((duration.hours ?? 0) * 3600 + (duration.minutes ?? 0) * 60 + (duration.seconds ?? 0)) * 1000;
  }
  const parts = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/.test(duration) ? duration.match(/\d+(?:\.\d+)?(?:ms|s|m|h|d)/g) : null;
  if (parts === null) throw new Error(`invalid duration '${duration}': use forms like '30s', '5m', '1h30m'`);
  let total = 0;
  for (const part of parts) {
    const [, amount, unit] = part.match(/^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/) ?? [];
    total += Number(amount) * (UNIT_MS[unit as string] as number);
  }
  return Math.round(total);
}

export function durationToString(duration: Duration): string {
  return `${durationToMs(duration) / 1000}s`;
}
