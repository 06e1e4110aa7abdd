// When to try again: capped exponential backoff with full jitter for failures, and the server's own word
// (Retry-After, the RateLimit headers) where it gave one.

/** Full jitter: a random delay in [0, min(cap, base * 2^attempt)). */
export function backoffDelayMs(attempt: number, baseMs: number, capMs: number, random: () => number): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30))
  return Math.floor(random() * ceiling)
}

/** Milliseconds a Retry-After value asks for: delta-seconds (decimals allowed) or an HTTP date. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null || value.trim() === '') return undefined
  const text = value.trim()
  if (/^\d+(\.\d+)?$/.test(text)) return Math.ceil(Number(text) * 1000)
  const date = Date.parse(text)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

/**
 * Milliseconds until the rate limit window resets when no request is left in it, from the IETF draft headers
 * the server sends (`RateLimit: "default";r=0;t=12`, older drafts' `RateLimit-Remaining`/`RateLimit-Reset`)
 * or the de-facto `X-RateLimit-Remaining`/`X-RateLimit-Reset` (seconds until the reset).
 */
export function rateLimitWaitMs(headers: Headers): number | undefined {
  const structured = headers.get('ratelimit')
  if (structured !== null) {
    const remaining = /(?:^|;)\s*r=(\d+)/.exec(structured)?.[1]
    const reset = /(?:^|;)\s*t=(\d+)/.exec(structured)?.[1]
    if (remaining === '0' && reset !== undefined) return Number(reset) * 1000
    return undefined
  }
  for (const prefix of ['ratelimit-', 'x-ratelimit-']) {
    const remaining = headers.get(`${prefix}remaining`)
    const reset = headers.get(`${prefix}reset`)
    if (remaining === '0' && reset !== null && /^\d+$/.test(reset.trim())) return Number(reset) * 1000
  }
  return undefined
}
