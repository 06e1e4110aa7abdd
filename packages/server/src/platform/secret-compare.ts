// Secrets compared in constant time, so response timing says nothing about how much of a guess was right.
// Credentials the service only checks (API keys, the admin token) are compared by their SHA-256 digests.
import { createHash, timingSafeEqual } from 'node:crypto'

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex')
}

/** Constant-time comparison of two hex digests of equal length. */
export function sameDigest(a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex')
  const right = Buffer.from(b, 'hex')
  return left.length === right.length && timingSafeEqual(left, right)
}

/** Constant-time comparison of two secrets of any length (their digests are compared). */
export function sameSecret(given: string, expected: string): boolean {
  return sameDigest(hashSecret(given), hashSecret(expected))
}

/** Constant-time comparison of two byte strings, e.g. a decoded signature against the expected MAC. */
export function sameBytes(given: Buffer, expected: Buffer): boolean {
  return given.length === expected.length && timingSafeEqual(given, expected)
}
