// A private redis-server for the bench: the production configuration counts rate limits in Redis, and the
// bench must not write into a Redis others use. It keeps nothing on disk and is stopped by its own PID.
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { freePort } from './server-process.js'

export interface RedisProcess {
  readonly url: string
  /** The open client the bench reads counters with. */
  readonly client: Redis
  stop(): Promise<void>
}

export async function startRedisProcess(readyTimeoutMs = 10_000): Promise<RedisProcess> {
  const port = await freePort()
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  )
  const exited = once(child, 'exit')
  const url = `redis://127.0.0.1:${port}`
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 })
  client.on('error', () => undefined)
  const deadline = Date.now() + readyTimeoutMs
  for (;;) {
    try {
      await client.connect()
      await client.ping()
      break
    } catch (err) {
      client.disconnect()
      if (child.exitCode !== null || Date.now() > deadline) {
        child.kill('SIGKILL')
        throw new Error(`redis-server on port ${port} did not answer: ${(err as Error).message}`)
      }
      await sleep(50)
    }
  }
  return {
    url,
    client,
    async stop() {
      client.disconnect()
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      await exited
    },
  }
}

/**
 * What the rate limiter counted in Redis for API keys: the sum of the integer counters whose key names an
 * API-key bucket (`<prefix>rl:<policy>:key:<id>`). Every request the fleet-wide limiter checked adds one, or
 * was part of a lease of tokens the process took at once, which counts them all: never fewer than it checked.
 */
export async function rateLimitCounted(client: Redis, keyPrefix: string): Promise<number> {
  let total = 0
  let cursor = '0'
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${keyPrefix}rl:*key:*`, 'COUNT', 1000)
    cursor = next
    for (const key of keys) {
      if ((await client.type(key)) !== 'string') continue
      const value = Number(await client.get(key))
      if (Number.isSafeInteger(value)) total += value
    }
  } while (cursor !== '0')
  return total
}
