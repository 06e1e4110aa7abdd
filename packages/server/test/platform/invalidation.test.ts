import { randomUUID } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { type Invalidation, openInvalidation } from '../../src/platform/invalidation.js'
import { createLogger } from '../../src/platform/logger.js'
import { openRedis, type RedisHandle } from '../../src/platform/redis.js'
import { CapturedLogs, REDIS_URL } from '../helpers/app.js'
import { waitFor } from '../helpers/wait.js'

/** What a listener heard: each message, and how many times it was told to drop everything. */
class Recorder {
  readonly messages: string[] = []
  dropAlls = 0
  readonly listener = {
    drop: (message: string) => void this.messages.push(message),
    dropAll: () => void this.dropAlls++,
  }
}

describe('cache invalidation over Redis pub/sub', () => {
  const opened: { redis: RedisHandle; invalidation: Invalidation }[] = []
  afterEach(async () => {
    for (const { redis, invalidation } of opened.splice(0)) {
      await invalidation.close()
      await redis.close()
    }
  })

  /** One process's view: its own Redis connection and invalidation, under the given prefix. */
  async function processWith(keyPrefix: string, options: { listen?: boolean; redisUrl?: string } = {}) {
    const logs = new CapturedLogs()
    const log = createLogger({ level: 'debug', destination: logs })
    const redis = openRedis(options.redisUrl ?? REDIS_URL, log)
    const invalidation = openInvalidation({
      redis,
      keyPrefix,
      log,
      publishTimeoutMs: 300,
      ...(options.listen === undefined ? {} : { listen: options.listen }),
    })
    opened.push({ redis, invalidation })
    return { redis, invalidation, logs }
  }

  /** A process listening on `credentials`, once its subscription is active. */
  async function listening(prefix: string) {
    const replica = await processWith(prefix)
    const heard = new Recorder()
    replica.invalidation.subscribe('credentials', heard.listener)
    // The listener is told to drop everything once the subscription is active: from then on nothing is missed.
    await waitFor(() => heard.dropAlls === 1, { description: 'the subscription to be active' })
    return { replica, heard }
  }

  it('delivers a message published by one process to the listener of another', async () => {
    const prefix = `test:${randomUUID()}:`
    const { heard } = await listening(prefix)

    const cli = await processWith(prefix, { listen: false })
    await cli.invalidation.publish('credentials', 'tenant-1')
    await waitFor(() => heard.messages.length === 1, { description: 'the message' })
    expect(heard.messages).toEqual(['tenant-1'])
  })

  it('keeps deployments with different key prefixes apart', async () => {
    const prefix = `test:${randomUUID()}:`
    const { heard } = await listening(prefix)

    const other = await processWith(`test:${randomUUID()}:`, { listen: false })
    const same = openInvalidation({
      redis: other.redis,
      keyPrefix: prefix,
      log: createLogger({ level: 'silent' }),
    })
    // Both go through one connection, so Redis handles them in this order: the first would arrive first.
    await other.invalidation.publish('credentials', 'other deployment')
    await same.publish('credentials', 'this deployment')
    await waitFor(() => heard.messages.length > 0, { description: 'the message' })
    expect(heard.messages).toEqual(['this deployment'])
  })

  it('subscribes again after the subscriber connection is killed, and has every listener drop everything', async () => {
    const prefix = `test:${randomUUID()}:`
    const { replica, heard } = await listening(prefix)

    // Only this test's subscriber: it is the pub/sub connection named after the prefix.
    await replica.redis.reach()
    const clients = String(await replica.redis.client.call('CLIENT', 'LIST', 'TYPE', 'pubsub'))
    const ours = clients.split('\n').filter((line) => line.includes(` name=${prefix}invalidate:subscriber `))
    expect(ours).toHaveLength(1)
    const id = /(?:^|\s)id=(\d+)/.exec(ours[0]!)?.[1]
    expect(await replica.redis.client.call('CLIENT', 'KILL', 'ID', id!)).toBe(1)

    await waitFor(() => heard.dropAlls === 2, { description: 'the subscription to be active again' })
    expect(replica.logs.lines.map((line) => line.msg)).toEqual(
      expect.arrayContaining([
        'cache invalidations not received while redis is away; cached entries expire by TTL',
        'receiving cache invalidations again; dropped every cached entry',
      ]),
    )
    const cli = await processWith(prefix, { listen: false })
    await cli.invalidation.publish('credentials', 'after the outage')
    await waitFor(() => heard.messages.length === 1, { description: 'the message' })
    expect(heard.messages).toEqual(['after the outage'])
  })

  it('resolves a publish that cannot reach Redis, with a warning', async () => {
    // Nothing listens on port 1: the connection is refused.
    const cli = await processWith(`test:${randomUUID()}:`, { listen: false, redisUrl: 'redis://127.0.0.1:1' })
    await expect(cli.invalidation.publish('credentials', 'tenant-1')).resolves.toBeUndefined()
    expect(cli.logs.lines).toContainEqual(
      expect.objectContaining({
        level: 40,
        channel: 'credentials',
        msg: 'could not publish a cache invalidation; other processes drop their entry when its TTL ends',
      }),
    )
  })

  it("delivers to the publishing process's own listeners before publish returns, then to the others", async () => {
    const prefix = `test:${randomUUID()}:`
    const { replica, heard } = await listening(prefix)
    const other = await listening(prefix)

    const published = replica.invalidation.publish('credentials', 'tenant-1')
    expect(heard.messages).toEqual(['tenant-1'])
    await published
    await waitFor(() => other.heard.messages.length === 1, { description: 'the message' })
    expect(other.heard.messages).toEqual(['tenant-1'])
  })

  it("without Redis, delivers to this process's own listeners only, before publish returns", async () => {
    const local = openInvalidation({
      redis: undefined,
      keyPrefix: 'pos:',
      log: createLogger({ level: 'silent' }),
    })
    const heard = new Recorder()
    local.subscribe('credentials', heard.listener)
    const elsewhere = new Recorder()
    local.subscribe('other-channel', elsewhere.listener)
    const published = local.publish('credentials', 'tenant-1')
    expect(heard).toMatchObject({ messages: ['tenant-1'], dropAlls: 0 })
    await published
    expect(local.shared).toBe(false)
    expect(elsewhere).toMatchObject({ messages: [], dropAlls: 0 })
  })
})
