// API keys: 192 random bits behind a `pos_` marker. The first 16 characters are the public prefix used to
// find the key; only the SHA-256 of the whole key is stored, and it is compared in constant time.
import { randomBytes } from 'node:crypto'
import { hashSecret } from '../../platform/secret-compare.js'

const KEY_MARKER = 'pos_'
const PREFIX_LENGTH = 16
const KEY_PATTERN = /^pos_[A-Za-z0-9_-]{32}$/

export interface NewApiKey {
  /** Shown once, to whoever created it; never stored. */
  readonly key: string
  readonly prefix: string
  readonly hash: string
}

export function generateApiKey(): NewApiKey {
  const key = `${KEY_MARKER}${randomBytes(24).toString('base64url')}`
  return { key, prefix: key.slice(0, PREFIX_LENGTH), hash: hashSecret(key) }
}

/** The lookup prefix of something that looks like one of our keys, or undefined. */
export function apiKeyPrefix(candidate: string): string | undefined {
  return KEY_PATTERN.test(candidate) ? candidate.slice(0, PREFIX_LENGTH) : undefined
}
