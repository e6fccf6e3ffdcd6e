// Reviewer JWTs for tests, signed with npm `jose` (HS256) using the same secret holdgate is
// started with (HOLDGATE_JWT_SECRET), so tests do not depend on `holdgate token`.
import crypto from 'node:crypto';
import { SignJWT } from 'jose';

export function newJwtSecret() {
  return crypto.randomBytes(32).toString('hex');  // 64 characters, above the 32-byte minimum
}

// sub, role ('reviewer' | 'admin' | 'auditor' | anything else for a role-less token),
// ttlSeconds (negative: already expired), iatOffsetSeconds (added to now for iat).
export async function mintToken(secret, { sub, role = 'reviewer', ttlSeconds = 3600, iatOffsetSeconds = 0 } = {}) {
  const now = Math.floor(Date.now() / 1000);
  const iat = now + Math.min(iatOffsetSeconds, ttlSeconds < 0 ? ttlSeconds - 60 : 0);
  const claims = { sub };
  if (role) claims.role = role;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuedAt(iat)
    .setExpirationTime(now + ttlSeconds)
    .sign(new TextEncoder().encode(secret));
}
