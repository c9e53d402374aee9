/**
 * The small pieces every route's answer is made of, in Hatchet's shapes: times as ISO 8601
 * strings, a query parameter given once or repeated, and the page a list answers.
 */
import { z } from 'zod';

/** A time in milliseconds as an ISO 8601 string (undefined stays undefined). */
export function iso(ms: number): string;
export function iso(ms: number | undefined): string | undefined;
export function iso(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : new Date(ms).toISOString();
}

/** A query parameter that may be given once or repeated, read as a list. */
export const queryList = z.union([z.string(), z.array(z.string())]).transform((value) => (Array.isArray(value) ? value : [value]));

/** Hatchet's `PaginationResponse` for the page at `offset` of `limit` rows out of `total`. */
export function pagination(offset: number, limit: number, total: number): { current_page: number; num_pages: number; next_page?: number } {
  const current = Math.floor(offset / limit) + 1;
  const pages = Math.ceil(total / limit);
  return { current_page: current, num_pages: pages, ...(current < pages ? { next_page: current + 1 } : {}) };
}
