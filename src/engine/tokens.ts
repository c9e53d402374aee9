/**
 * API tokens: JSON Web Tokens the engine signs, with the claims Hatchet's clients read — the
 * tenant in `sub`, the REST base URL in `server_url`, the worker gateway's `host:port` in
 * `grpc_broadcast_address`, `exp` — plus `token_id`, which names the token's record in the log
 * (`tenants` stream) so it can be listed and revoked.
 *
 * Owns: signing and verifying (HS256 over the engine's signing key). Does not own: which tokens
 * exist or are revoked (the engine's registry, folded from the log).
 *
 * Why by hand and not with a JOSE library: verification sits on synchronous paths (a uWS request
 * callback, the WebSocket handshake that must answer before the frames behind it), and the
 * maintained libraries verify asynchronously only. HS256 with one fixed header is small enough to
 * check completely here, and it is tested against the classic attacks (`alg: none`, a changed
 * algorithm, a forged signature, a changed payload).
 *
 * Invariants:
 *  1. Only a token whose header is exactly `{"alg":"HS256","typ":"JWT"}` and whose signature
 *     matches (compared in constant time) is read at all; its claims are not trusted before that.
 *  2. An expired token, or one whose `iss`/`aud` is not this engine's, is refused with its own code.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const TOKEN_ISSUER = 'kindling';

/** What a token says about itself, once its signature is checked. */
export interface TokenClaims {
  /** The tenant the token acts as; empty for an admin token. */
  readonly sub: string;
  readonly token_id: string;
  /** 'tenant' (a tenant's API token) or 'admin' (manages tenants and tokens, acts as no tenant). */
  readonly role: 'tenant' | 'admin';
  readonly iss: string;
  readonly aud: string;
  /** Seconds since the epoch. */
  readonly iat: number;
  readonly exp: number;
  readonly server_url?: string;
  readonly grpc_broadcast_address?: string;
}

export type TokenCheck = { readonly ok: true; readonly claims: TokenClaims } | { readonly ok: false; readonly code: TokenErrorCode; readonly message: string };

export const TokenErrorCode = {
  /** Not a token this engine signed (malformed, forged, another algorithm, another issuer). */
  Invalid: 'AUTH_UNAUTHENTICATED',
  Expired: 'AUTH_TOKEN_EXPIRED',
  Revoked: 'AUTH_TOKEN_REVOKED',
} as const;
export type TokenErrorCode = (typeof TokenErrorCode)[keyof typeof TokenErrorCode];

const HEADER = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));

function base64url(text: string | Buffer): string {
  return Buffer.from(text).toString('base64url');
}

function signature(key: Uint8Array, signingInput: string): Buffer {
  return createHmac('sha256', key).update(signingInput).digest();
}

export function signToken(key: Uint8Array, claims: TokenClaims): string {
  const signingInput = `${HEADER}.${base64url(JSON.stringify(claims))}`;
  return `${signingInput}.${signature(key, signingInput).toString('base64url')}`;
}

const invalid = (message: string): TokenCheck => ({ ok: false, code: TokenErrorCode.Invalid, message });

/** Checks a token's form, signature, issuer and expiry (invariants 1 and 2). */
export function verifyToken(key: Uint8Array, token: string, nowMs: number): TokenCheck {
  const parts = token.split('.');
  if (parts.length !== 3) return invalid('the token is not a JSON Web Token (three dot-separated parts)');
  const [header, payload, sig] = parts as [string, string, string];
  // Invariant 1: the one header this engine writes, byte for byte; `alg: none` and friends end here.
  if (header !== HEADER) return invalid('the token was not signed by this engine (unexpected header)');
  const expected = signature(key, `${header}.${payload}`);
  const given = Buffer.from(sig, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return invalid('the token was not signed by this engine (bad signature)');
  let claims: TokenClaims;
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as TokenClaims;
  } catch {
    return invalid('the token payload is not JSON');
  }
  if (typeof claims !== 'object' || claims === null || typeof claims.token_id !== 'string' || typeof claims.sub !== 'string' || typeof claims.exp !== 'number') {
    return invalid('the token lacks its claims');
  }
  if (claims.iss !== TOKEN_ISSUER || claims.aud !== TOKEN_ISSUER) return invalid('the token was issued for another service');
  if (claims.exp * 1000 <= nowMs) return { ok: false, code: TokenErrorCode.Expired, message: `the token expired at ${new Date(claims.exp * 1000).toISOString()}; create a new one` };
  return { ok: true, claims };
}
