// The rate limit state on every answer that was counted: the de-facto X-RateLimit headers and the IETF draft
// RateLimit and RateLimit-Policy ones. The limits themselves are counted in platform/rate-limits.ts.
import type { FastifyReply } from 'fastify'
import type { RateLimitState } from '../platform/rate-limits.js'

/** Writes the limit state on a response: the de-facto X-RateLimit headers and the IETF draft ones. */
export function setRateLimitHeaders(reply: FastifyReply, state: RateLimitState): void {
  const windowSeconds = Math.round(state.policy.windowMs / 1000)
  reply.header('x-ratelimit-limit', state.policy.max)
  reply.header('x-ratelimit-remaining', state.remaining)
  reply.header('x-ratelimit-reset', state.resetSeconds)
  reply.header('ratelimit-policy', `"default";q=${state.policy.max};w=${windowSeconds}`)
  reply.header('ratelimit', `"default";r=${state.remaining};t=${state.resetSeconds}`)
}
