import { randomUUID } from 'node:crypto'
import pino from 'pino'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { leaseCap, type RateLimitBucket, RateLimits } from '../../src/platform/rate-limits.js'
import { openRedis, type RedisHandle } from '../../src/platform/redis.js'
import { REDIS_URL } from '../helpers/app.js'
import { type StallProxy, startStallProxy } from '../helpers/stall-proxy.js'
import { waitFor } from '../helpers/wait.js'

// Three limiters, each with its own Redis connection, stand for three replicas of one fleet.
describe('token leases of the shared rate limit', () => {
  const log = pino({ level: 'silent' })
  const handles: RedisHandle[] = []
  let keyPrefix: string
  const replicas = (n: number) =>
    Promise.all(
      Array.from({ length: n }, async () => {
        const redis = openRedis(REDIS_URL, log)
        handles.push(redis)
        await redis.reach()
        return new RateLimits({ redis: redis.client, keyPrefix, log, redisTimeoutMs: 1000 })
      }),
    )
  const windowKey = ({ id, policy }: RateLimitBucket) =>
    `${keyPrefix}rl:${policy.max}/${policy.windowMs}:${id}`
  /** What the window of a bucket counts in Redis: every token handed out or leased. */
  const countedInRedis = async (bucket: RateLimitBucket) =>
    Number(await handles[0]!.client.get(windowKey(bucket)))

  beforeAll(async () => {
    keyPrefix = `test:leases:${randomUUID()}:`
  })
  afterAll(async () => {
    const [first] = handles
    if (first !== undefined) {
      const keys = await first.client.keys(`${keyPrefix}*`)
      if (keys.length > 0) await first.client.del(...keys)
    }
    await Promise.all(handles.map((h) => h.close()))
  })

  it('takes at most 1% of the limit and at most 64 tokens at once; one token below a limit of 200', () => {
    expect(leaseCap({ max: 9, windowMs: 60_000 })).toBe(1)
    expect(leaseCap({ max: 199, windowMs: 60_000 })).toBe(1)
    expect(leaseCap({ max: 1000, windowMs: 60_000 })).toBe(10)
    expect(leaseCap({ max: 6000, windowMs: 60_000 })).toBe(60)
    expect(leaseCap({ max: 10_000_000, windowMs: 60_000 })).toBe(64)
  })

  it('counts down exactly in one process, leases and all', async () => {
    const [limits] = await replicas(1)
    const bucket: RateLimitBucket = { id: `key:${randomUUID()}`, policy: { max: 1000, windowMs: 60_000 } }
    const remaining: number[] = []
    for (let i = 0; i < 40; i++) remaining.push((await limits!.consume(bucket)).remaining)
    expect(remaining).toEqual(Array.from({ length: 40 }, (_, i) => 999 - i))
    expect(limits!.degraded).toBe(false)
    // Leases of 1, 2, 4, 8 and 10 tokens: 45 counted in Redis for 40 requests, and 5 left in hand.
    expect(await countedInRedis(bucket)).toBe(45)
  })

  it('counts from what Redis answers once it lost the window, not from the count it had before', async () => {
    const [limits] = await replicas(1)
    const bucket: RateLimitBucket = { id: `key:${randomUUID()}`, policy: { max: 1000, windowMs: 60_000 } }
    // Leases of 1, 2, 4, 8, 10, 10 and 10 tokens: 45 counted for 40 requests, 5 left in hand.
    for (let i = 0; i < 40; i++) await limits!.consume(bucket)
    // Redis restarted without persistence: the window is gone. The tokens in hand are spent first.
    await handles[0]!.client.del(windowKey(bucket))
    for (let i = 0; i < 5; i++) await limits!.consume(bucket)
    // The next refill of 10 tokens is all the new window counts: 990 left, and 9 of them in hand.
    expect(await limits!.consume(bucket)).toMatchObject({ exceeded: false, remaining: 999 })
    expect(await countedInRedis(bucket)).toBe(10)
  })

  it('takes about as many tokens as a burst in one process needs, and no more than a lease beyond', async () => {
    const [limits] = await replicas(1)
    const bucket: RateLimitBucket = { id: `key:${randomUUID()}`, policy: { max: 1000, windowMs: 60_000 } }
    const states = await Promise.all(Array.from({ length: 200 }, () => limits!.consume(bucket)))
    expect(states.every((state) => !state.exceeded)).toBe(true)
    expect(limits!.degraded).toBe(false)
    // A waiter starts a refill only when the refills under way do not cover the requests already waiting.
    const counted = await countedInRedis(bucket)
    expect(counted).toBeGreaterThanOrEqual(200)
    expect(counted).toBeLessThan(200 + 2 * leaseCap(bucket.policy))
  })

  it('peeks at what was spent, not at the tokens this process leased and still holds', async () => {
    const [limits] = await replicas(1)
    const bucket: RateLimitBucket = { id: `ip:${randomUUID()}`, policy: { max: 300, windowMs: 60_000 } }
    for (let i = 0; i < 299; i++) expect((await limits!.consume(bucket)).exceeded).toBe(false)
    expect(await countedInRedis(bucket)).toBeGreaterThan(299)
    expect(await limits!.peek(bucket)).toMatchObject({ exceeded: false, remaining: 1 })
    expect((await limits!.consume(bucket)).exceeded).toBe(false)
    expect(await limits!.peek(bucket)).toMatchObject({ exceeded: true, remaining: 0 })
  })

  it('never accepts more than the limit across three replicas, nor refuses more than the tokens others hold', async () => {
    const fleet = await replicas(3)
    const policy = { max: 1000, windowMs: 60_000 }
    const bucket: RateLimitBucket = { id: `key:${randomUUID()}`, policy }
    let accepted = 0
    let refused = 0
    // 1,500 requests in rounds of 30 concurrent ones, spread over the replicas unevenly.
    for (let round = 0; round < 50; round++) {
      const states = await Promise.all(
        Array.from({ length: 30 }, (_, i) => fleet[i % 5 === 0 ? 0 : i % 2 === 0 ? 1 : 2]!.consume(bucket)),
      )
      for (const state of states) {
        if (state.exceeded) refused++
        else accepted++
      }
    }
    const slack = (fleet.length - 1) * (leaseCap(policy) - 1)
    expect(accepted).toBeLessThanOrEqual(policy.max)
    expect(accepted).toBeGreaterThanOrEqual(policy.max - slack)
    expect(accepted + refused).toBe(1500)
    expect(await countedInRedis(bucket)).toBeGreaterThanOrEqual(policy.max)
    for (const limits of fleet) expect(limits.degraded).toBe(false)
  })

  it('starts a fresh lease when the window ends', async () => {
    const [limits] = await replicas(1)
    const bucket: RateLimitBucket = { id: `key:${randomUUID()}`, policy: { max: 200, windowMs: 1000 } }
    const first: boolean[] = []
    for (let i = 0; i < 201; i++) first.push((await limits!.consume(bucket)).exceeded)
    expect(first.filter(Boolean)).toHaveLength(1)
    expect(first.at(-1)).toBe(true)
    const reset = (await limits!.consume(bucket)).resetSeconds
    expect(reset).toBeLessThanOrEqual(1)
    // The window is one second: wait for its end, then the next request is counted in a new one.
    const deadline = Date.now() + 5000
    let state = await limits!.consume(bucket)
    while (state.exceeded && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50))
      state = await limits!.consume(bucket)
    }
    expect(state).toMatchObject({ exceeded: false, remaining: 199 })
  })
})

// One replica whose Redis answers are held back by a proxy: its refills time out and are answered after the
// requests waiting for them fell back to the insurance limiter.
describe('refills that Redis answers late', () => {
  const log = pino({ level: 'silent' })
  const redisUrl = new URL(REDIS_URL)
  // Long enough that a loaded machine answers the refills that are not held back in time.
  const redisTimeoutMs = 500
  let proxy: StallProxy
  let viaProxy: RedisHandle
  let direct: RedisHandle
  let limits: RateLimits
  const runPrefix = `test:late-leases:${randomUUID()}:`
  let keyPrefix: string

  beforeAll(async () => {
    direct = openRedis(REDIS_URL, log)
    await direct.reach()
  })
  afterAll(async () => {
    const keys = await direct.client.keys(`${runPrefix}*`)
    if (keys.length > 0) await direct.client.del(...keys)
    await direct.close()
  })
  beforeEach(async () => {
    keyPrefix = `${runPrefix}${randomUUID()}:`
    proxy = await startStallProxy({ host: redisUrl.hostname, port: Number(redisUrl.port) })
    viaProxy = openRedis(`redis://127.0.0.1:${proxy.port}`, log)
    await viaProxy.reach()
    limits = new RateLimits({ redis: viaProxy.client, keyPrefix, log, redisTimeoutMs })
  })
  afterEach(async () => {
    proxy.release()
    await viaProxy.close()
    await proxy.close()
  })

  const countedInRedis = async ({ id, policy }: RateLimitBucket) =>
    Number(await direct.client.get(`${keyPrefix}rl:${policy.max}/${policy.windowMs}:${id}`))

  /** Requests while Redis's answers are held: they wait for refills that time out, then fall back. */
  async function whileRedisIsSlow(bucket: RateLimitBucket, n: number): Promise<boolean[]> {
    proxy.stall()
    const states = await Promise.all(Array.from({ length: n }, () => limits.consume(bucket)))
    expect(limits.degraded).toBe(true)
    expect(proxy.held).toBeGreaterThan(0)
    proxy.release()
    return states.map((state) => state.exceeded)
  }

  /** Requests one after another until `refusals` were refused; how many were accepted. */
  async function acceptedUntilRefused(bucket: RateLimitBucket, refusals: number): Promise<number> {
    let accepted = 0
    let refused = 0
    while (refused < refusals) {
      if ((await limits.consume(bucket)).exceeded) refused++
      else accepted++
    }
    return accepted
  }

  it('credits the late tokens: the requests that fell back meanwhile spend them, and the window accepts exactly the limit', async () => {
    const bucket: RateLimitBucket = { id: `key:${randomUUID()}`, policy: { max: 1000, windowMs: 60_000 } }
    // Five waiters take leases of 1, 2 and 4 tokens: seven counted in Redis for five requests.
    const slow = await whileRedisIsSlow(bucket, 5)
    expect(slow).toEqual(Array(5).fill(false))
    // The two tokens left go to the next requests instead of being lost with the late answers.
    expect(5 + (await acceptedUntilRefused(bucket, 3))).toBe(1000)
    // Every accepted request is counted in Redis, those the insurance limiter admitted too.
    expect(await countedInRedis(bucket)).toBeGreaterThanOrEqual(1000)
  })

  // Below a limit of 200 the lease is one token: every request is its own refill, with the same bookkeeping.
  it.each([200, 100])(
    'refuses what falls back once the window has no room left for it, and counts the rest in Redis (a limit of %i)',
    async (max) => {
      const bucket: RateLimitBucket = { id: `key:${randomUUID()}`, policy: { max, windowMs: 60_000 } }
      for (let i = 0; i < max - 10; i++) expect((await limits.consume(bucket)).exceeded).toBe(false)
      // Redis has room for ten more: the tokens this replica still holds, then those the late refills bring.
      const slow = await whileRedisIsSlow(bucket, 20)
      expect(slow.filter((exceeded) => !exceeded)).toHaveLength(10)
      expect(await acceptedUntilRefused(bucket, 3)).toBe(0)
      expect(await countedInRedis(bucket)).toBeGreaterThanOrEqual(max)
    },
  )

  it('does not credit tokens of a window that ended before they arrived to the next one', async () => {
    const windowMs = 3000
    const bucket: RateLimitBucket = { id: `key:${randomUUID()}`, policy: { max: 400, windowMs } }
    proxy.stall()
    // Leases of 1, 2 and 4 tokens for five requests: two tokens more than they need.
    const slow = await Promise.all(Array.from({ length: 5 }, () => limits.consume(bucket)))
    expect(slow.every((state) => !state.exceeded)).toBe(true)
    // The answers are held until the window they were counted in has ended: Redis dropped its count.
    await waitFor(async () => (await countedInRedis(bucket)) === 0, {
      description: 'the window of the held refills to end',
      timeoutMs: windowMs + 5000,
      intervalMs: 50,
    })
    proxy.release()
    // A fresh window: the limit, neither more (old tokens) nor less (old debts).
    expect(await acceptedUntilRefused(bucket, 1)).toBe(400)
  })
})

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
