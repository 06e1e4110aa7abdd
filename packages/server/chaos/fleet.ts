// What the chaos suite runs and breaks: three real server processes (src/main.ts through tsx) on one fresh
// PostgreSQL database reached through a TCP proxy the suite controls, and one private redis-server it starts
// and stops. The machine's own PostgreSQL and Redis are never touched otherwise.
import type { ChildProcess } from 'node:child_process'
import { randomBytes, randomUUID } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { connect } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { type ServerProcess, startServerProcess } from '../bench/support/server-process.js'
import { createTestDatabase, type TestDatabase } from '../test/helpers/database.js'
import { freePort, startRedis } from '../test/helpers/private-redis.js'
import { type StallProxy, startStallProxy } from '../test/helpers/stall-proxy.js'

export const REPLICAS = 3
/** How long a readiness check waits for each dependency (READINESS_TIMEOUT_MS of the replicas). */
export const READINESS_TIMEOUT_MS = 2000
const READY_WITHIN_MS = 120_000

/** A private redis-server on a fixed port, stopped and started again by the Redis fault. */
export class PrivateRedis {
  #process: ChildProcess | undefined

  private constructor(readonly port: number) {}

  static async start(): Promise<PrivateRedis> {
    const redis = new PrivateRedis(await freePort())
    await redis.start()
    return redis
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`
  }

  async start(): Promise<void> {
    this.#process = startRedis(this.port)
    const deadline = Date.now() + 30_000
    while (!(await pong(this.port))) {
      if (Date.now() > deadline) throw new Error(`redis-server on port ${this.port} did not answer PING`)
      await sleep(50)
    }
  }

  async stop(): Promise<void> {
    const child = this.#process
    this.#process = undefined
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGKILL')
    await exited
  }
}

/** Whether a Redis answers PING on the port. */
function pong(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.setTimeout(1000)
    socket.once('connect', () => socket.write('PING\r\n'))
    socket.once('data', (chunk) => {
      socket.destroy()
      resolve(chunk.toString().startsWith('+PONG'))
    })
    socket.once('error', () => resolve(false))
    socket.once('timeout', () => {
      socket.destroy()
      resolve(false)
    })
  })
}

/**
 * Whether process `pid` holds the listening TCP socket of `port` on this machine (Linux: its socket inodes
 * in /proc/<pid>/fd against the listeners in /proc/net/tcp and tcp6). True where /proc cannot tell.
 */
function listensOn(pid: number | undefined, port: number): boolean {
  let inodes: Set<string>
  try {
    inodes = new Set(
      readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
        try {
          const link = readlinkSync(`/proc/${pid}/fd/${fd}`)
          return link.startsWith('socket:[') ? [link.slice(8, -1)] : []
        } catch {
          return []
        }
      }),
    )
  } catch {
    return pid !== undefined && !existsSync('/proc/self/fd')
  }
  const hexPort = `:${port.toString(16).toUpperCase().padStart(4, '0')}`
  const LISTEN = '0A'
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!existsSync(table)) continue
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/)
      if (fields[1]?.endsWith(hexPort) && fields[3] === LISTEN && inodes.has(fields[9] ?? '')) return true
    }
  }
  return false
}

export interface FleetEnvironment {
  readonly database: TestDatabase
  readonly proxy: StallProxy
  readonly redis: PrivateRedis
  readonly adminToken: string
}

/** A replica that exited without being told to: what it last wrote, for the artifacts. */
export interface UnexpectedExit {
  readonly name: string
  readonly slot: number
  readonly code: number | null
  /** Wall-clock ms. */
  readonly at: number
  readonly output: string
}

/** The three replicas, by slot; a slot is empty while its replica is down. */
export class Fleet {
  readonly #slots: (ServerProcess | undefined)[] = Array.from({ length: REPLICAS }, () => undefined)
  readonly #starts: number[] = Array.from({ length: REPLICAS }, () => 0)
  /** Replicas the suite killed or stopped itself: their exit is expected. */
  readonly #stopping = new WeakSet<ServerProcess>()
  readonly unexpectedExits: UnexpectedExit[] = []
  #closing = false
  #turn = 0

  private constructor(
    readonly environment: FleetEnvironment,
    readonly env: Record<string, string>,
  ) {}

  /** A fresh database behind a proxy, a private Redis, and the three replicas, ready. */
  static async start(): Promise<Fleet> {
    const database = await createTestDatabase()
    const postgres = new URL(database.url)
    const proxy = await startStallProxy({ host: postgres.hostname, port: Number(postgres.port || 5432) })
    const redis = await PrivateRedis.start()
    const adminToken = randomBytes(24).toString('hex')
    const viaProxy = new URL(database.url)
    viaProxy.port = String(proxy.port)
    const env = {
      DATABASE_URL: viaProxy.toString(),
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: `chaos:${randomUUID()}:`,
      ADMIN_TOKEN: adminToken,
      ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      LOG_LEVEL: 'warn',
      READINESS_TIMEOUT_MS: String(READINESS_TIMEOUT_MS),
      // The load stays far below the limit: the suite's own limit check uses a tenant override.
      RATE_LIMIT_MAX: '1000000',
      // A loaded 2-core machine answers Redis in more than the default 50 ms now and then; the fleet limit
      // check would then count a per-process fallback as a broken fleet limit.
      RATE_LIMIT_REDIS_TIMEOUT_MS: '250',
      SHUTDOWN_READINESS_DELAY_MS: '1000',
      SHUTDOWN_GRACE_MS: '15000',
      WEBHOOK_ALLOW_HTTP: 'true',
      WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
      // A delivery held by a killed replica is taken over after the lease, and failed attempts come back fast.
      WEBHOOK_LEASE_MS: '5000',
      WEBHOOK_RETRY_SCHEDULE: '0,1,2,4,8,15,30,60',
      WEBHOOK_POLL_INTERVAL_MS: '250',
    }
    const fleet = new Fleet({ database, proxy, redis, adminToken }, env)
    try {
      // The first replica applies the migrations alone; the other two then start side by side.
      await fleet.start(0)
      await Promise.all([fleet.start(1), fleet.start(2)])
    } catch (err) {
      await fleet.close()
      throw err
    }
    return fleet
  }

  /** Starts the replica of `slot` (on a new port) and resolves once /startupz answers 200. */
  async start(slot: number): Promise<ServerProcess> {
    const name = `replica-${slot}.${++this.#starts[slot]!}`
    const server = await startServerProcess(name, 'src/main.ts', this.env, READY_WITHIN_MS)
    if (!listensOn(server.pid, Number(new URL(server.url).port))) {
      // The port was free when it was picked, but on a shared machine another process may have taken it
      // before the replica listened: what answered ready was that process, not ours.
      await server.kill('SIGKILL')
      throw new Error(`${name} does not own the port that answered ready: ${server.url}`)
    }
    this.#slots[slot] = server
    void server.exited.then((code) => this.#exitedAlone(slot, name, server, code))
    return server
  }

  /** A replica that exits on its own is recorded, taken out of the rotation and started again. */
  #exitedAlone(slot: number, name: string, server: ServerProcess, code: number | null): void {
    if (this.#stopping.has(server) || this.#closing) return
    this.unexpectedExits.push({ name, slot, code, at: Date.now(), output: server.output() })
    if (this.#slots[slot] !== server) return
    this.#slots[slot] = undefined
    this.start(slot).catch(() => undefined)
  }

  replica(slot: number): ServerProcess | undefined {
    return this.#slots[slot]
  }

  get urls(): string[] {
    return this.#slots.flatMap((server) => (server === undefined ? [] : [server.url]))
  }

  /** The next replica that is up, round robin; undefined while none is. */
  next(): { slot: number; url: string } | undefined {
    for (let i = 0; i < REPLICAS; i++) {
      const slot = this.#turn++ % REPLICAS
      const server = this.#slots[slot]
      if (server !== undefined) return { slot, url: server.url }
    }
    return undefined
  }

  /** SIGKILL: the replica is gone at once, mid-request. */
  async kill(slot: number): Promise<void> {
    const server = this.#slots[slot]
    this.#slots[slot] = undefined
    if (server === undefined) return
    this.#stopping.add(server)
    await server.kill('SIGKILL')
  }

  /**
   * SIGTERM and the exit code. The replica stays in the rotation until it has exited: clients keep sending to
   * it while it drains, as they would before a load balancer notices, and retry elsewhere when it refuses.
   */
  async terminate(slot: number): Promise<number | null> {
    const server = this.#slots[slot]
    if (server === undefined) return null
    this.#stopping.add(server)
    try {
      return await server.stop(READY_WITHIN_MS)
    } finally {
      if (this.#slots[slot] === server) this.#slots[slot] = undefined
    }
  }

  /** Every replica stopped, the proxy closed, Redis stopped and the database dropped. */
  async close(): Promise<void> {
    this.#closing = true
    for (let slot = 0; slot < REPLICAS; slot++) await this.terminate(slot).catch(() => undefined)
    await this.environment.proxy.close()
    await this.environment.redis.stop()
    await this.environment.database.drop()
  }
}
