// The fleet-wide rate limiter against a real Redis, through the process's own client (auto-pipelining on).
import { randomUUID } from 'node:crypto'
import pino from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { RateLimits } from '../../src/platform/rate-limits.js'
import { openRedis, type RedisHandle } from '../../src/platform/redis.js'
import { REDIS_URL } from '../helpers/app.js'

describe('rate limits over Redis', () => {
  let redis: RedisHandle | undefined
  afterEach(async () => {
    await redis?.close()
  })

  // Found by the chaos suite: a replica crashed right after a restart. rate-limiter-flexible defines its Lua
  // command on the client when a limiter is built, and ioredis copies commands into an auto-pipeline when the
  // pipeline is made: a limiter built while a pipeline was pending queued its command on a pipeline without
  // it, and the pipeline's reply then threw outside any promise (results[i] is not iterable).
  it('counts in Redis when a new policy first comes while other commands are being pipelined', async () => {
    redis = openRedis(REDIS_URL, pino({ level: 'silent' }))
    await redis.reach()
    const limits = new RateLimits({
      redis: redis.client,
      keyPrefix: `test:${randomUUID()}:`,
      log: pino({ level: 'silent' }),
      redisTimeoutMs: 5000,
    })
    // A command of this tick opens an auto-pipeline; the limiter of a policy never seen is built in the same tick.
    const pending = redis.client.get(`test:${randomUUID()}`)
    const state = await limits.consume({ id: 'key:one', policy: { max: 5, windowMs: 60_000 } })
    await pending
    expect(limits.degraded).toBe(false)
    expect(state).toMatchObject({ remaining: 4, exceeded: false })
  })
})
