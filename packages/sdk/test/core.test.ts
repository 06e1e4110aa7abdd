// The core's small pieces: the embedded version, version comparison, the encodings, backoff and header parsing.
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { fromBase64, toBase64, toHex, uuidV4, webCrypto } from '../src/core/crypto.js'
import { backoffDelayMs, parseRetryAfter, rateLimitWaitMs } from '../src/core/retry.js'
import { compareVersions, SDK_VERSION } from '../src/index.js'

describe('the core', () => {
  it("embeds package.json's version", () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version: string
    }
    expect(SDK_VERSION).toBe(pkg.version)
  })

  it('compares versions as semver does', () => {
    expect(compareVersions('0.1.0', '0.2.0')).toBeLessThan(0)
    expect(compareVersions('1.10.0', '1.9.9')).toBeGreaterThan(0)
    expect(compareVersions('1.2.3', 'v1.2.3')).toBe(0)
    expect(compareVersions('1.2.3-beta.1', '1.2.3')).toBeLessThan(0)
    expect(compareVersions('1.2', '1.2.0')).toBeUndefined()
  })

  it('encodes base64 and hex as Node does', () => {
    const crypto = webCrypto()
    for (const length of [0, 1, 2, 3, 31, 32, 33]) {
      const bytes = crypto.randomBytes(length)
      expect(toBase64(bytes)).toBe(Buffer.from(bytes).toString('base64'))
      expect(toHex(bytes)).toBe(Buffer.from(bytes).toString('hex'))
      expect(Buffer.from(fromBase64(toBase64(bytes))!)).toEqual(Buffer.from(bytes))
    }
    expect(fromBase64('not base64!')).toBeUndefined()
    expect(uuidV4(crypto)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  })

  it('backs off exponentially with full jitter under the cap, and reads the wait headers', () => {
    expect(backoffDelayMs(0, 100, 1_000, () => 0.5)).toBe(50)
    expect(backoffDelayMs(3, 100, 1_000, () => 0.5)).toBe(400)
    expect(backoffDelayMs(10, 100, 1_000, () => 0.999)).toBe(999)
    expect(backoffDelayMs(10, 100, 1_000, () => 0)).toBe(0)
    expect(parseRetryAfter('2', 0)).toBe(2_000)
    expect(parseRetryAfter('0.5', 0)).toBe(500)
    expect(parseRetryAfter(new Date(60_000).toUTCString(), 0)).toBe(60_000)
    expect(parseRetryAfter('soon', 0)).toBeUndefined()
    expect(rateLimitWaitMs(new Headers({ ratelimit: '"default";r=0;t=7' }))).toBe(7_000)
    expect(rateLimitWaitMs(new Headers({ ratelimit: '"default";r=3;t=7' }))).toBeUndefined()
    expect(rateLimitWaitMs(new Headers({ 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '4' }))).toBe(
      4_000,
    )
  })
})
