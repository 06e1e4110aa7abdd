// Cache invalidation across the fleet. A feature that caches what the database says (API keys, sources) publishes
// on a channel after it changed that data. The publishing process's own listeners drop the named entries first,
// synchronously, before publish returns: the change's answer never precedes the drop here. Every other process
// subscribed to the channel drops them as the message arrives, over Redis pub/sub when REDIS_URL is set; without
// Redis there is no one else to tell, and each other process's TTL is the bound.
//
// Pub/sub delivers only to connected subscribers: a message published while a process is cut off from Redis is
// lost to it. So each time the subscription becomes active (the first time, and after every reconnect) every
// listener drops everything, and while it is down the TTL bounds staleness. Publishing never fails the caller:
// its change is committed already, and the TTL bounds how long the others serve the old answer. Over Redis the
// publisher hears its own message a second time; dropping twice costs no more than one uncached lookup.
//
// A subscribing connection can run no other command, so the subscriber is a second connection (a duplicate of
// the process's Redis client, opened on the first subscribe); publishing uses the process's own connection.
import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import { TIMED_OUT, withDeadline } from './deadline.js'
import type { RedisHandle } from './redis.js'

/** What a subscriber does with what it hears. */
export interface InvalidationListener {
  /** Another process (or this one) changed what `message` names: drop it. */
  drop(message: string): void
  /** Messages may have been missed (the subscription has just become active): drop everything. */
  dropAll(): void
}

export interface Invalidation {
  /** True when messages reach other processes (Redis); false when each falls back to its TTL. */
  readonly shared: boolean
  /**
   * Tells every subscriber of `channel`: this process's own listeners synchronously, before the promise is
   * returned, then the other processes. Never rejects: a failure to reach the others is logged.
   */
  publish(channel: string, message: string): Promise<void>
  subscribe(channel: string, listener: InvalidationListener): void
  close(): Promise<void>
}

export interface InvalidationOptions {
  readonly redis: RedisHandle | undefined
  /** REDIS_KEY_PREFIX: channels live under it, like keys, so deployments sharing a Redis do not hear each other. */
  readonly keyPrefix: string
  readonly log: Logger
  /**
   * False for a process that only publishes (the CLI runs one command): it does not subscribe in Redis, though
   * its own listeners still hear its own messages. Default true.
   */
  readonly listen?: boolean
  /** How long a publish may hold up the change that caused it (connecting first, in the CLI). Default 1 s. */
  readonly publishTimeoutMs?: number
}

const DEFAULT_PUBLISH_TIMEOUT_MS = 1000

export function openInvalidation(options: InvalidationOptions): Invalidation {
  return options.redis === undefined
    ? processLocalInvalidation()
    : new RedisInvalidation(options.redis, options)
}

/** The listeners of one process, by channel name. */
class Listeners {
  readonly #byChannel = new Map<string, InvalidationListener[]>()

  /** Adds the listener; true when it is the channel's first. */
  add(channel: string, listener: InvalidationListener): boolean {
    const listeners = this.#byChannel.get(channel)
    if (listeners) listeners.push(listener)
    else this.#byChannel.set(channel, [listener])
    return listeners === undefined
  }

  drop(channel: string, message: string): void {
    for (const listener of this.#byChannel.get(channel) ?? []) listener.drop(message)
  }

  dropAll(channel: string): void {
    for (const listener of this.#byChannel.get(channel) ?? []) listener.dropAll()
  }

  channels(): string[] {
    return [...this.#byChannel.keys()]
  }
}

/** Without Redis: the process that made a change drops its own entries; others wait for their TTL. */
export function processLocalInvalidation(): Invalidation {
  const listeners = new Listeners()
  return {
    shared: false,
    publish: (channel, message) => {
      listeners.drop(channel, message)
      return Promise.resolve()
    },
    subscribe: (channel, listener) => void listeners.add(channel, listener),
    close: () => Promise.resolve(),
  }
}

class RedisInvalidation implements Invalidation {
  readonly shared = true
  readonly #redis: RedisHandle
  readonly #prefix: string
  readonly #log: Logger
  readonly #listen: boolean
  readonly #publishTimeoutMs: number
  /** Listeners by full channel name. */
  readonly #listeners = new Listeners()
  #subscriber: Redis | undefined
  #active = false
  /** Set when an active subscription was lost: the next activation follows an outage. */
  #lost = false
  #closed: Promise<void> | undefined

  constructor(redis: RedisHandle, options: InvalidationOptions) {
    this.#redis = redis
    this.#prefix = `${options.keyPrefix}invalidate:`
    this.#log = options.log
    this.#listen = options.listen ?? true
    this.#publishTimeoutMs = options.publishTimeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS
  }

  async publish(channel: string, message: string): Promise<void> {
    // Before the first await: this process has dropped its entries by the time the caller holds the promise.
    this.#listeners.drop(this.#prefix + channel, message)
    const client = this.#redis.client
    // A process that has not used Redis yet (the CLI) connects first; a server whose connection is down
    // fails at once (no offline queue) rather than holding up the change.
    const connected = client.status === 'wait' ? this.#redis.reach() : Promise.resolve()
    try {
      const outcome = await withDeadline(
        connected.then(() => client.publish(this.#prefix + channel, message)),
        this.#publishTimeoutMs,
      )
      if (outcome === TIMED_OUT) throw new Error(`no answer within ${this.#publishTimeoutMs} ms`)
    } catch (err) {
      this.#log.warn(
        { err: { message: err instanceof Error ? err.message : String(err) }, channel },
        'could not publish a cache invalidation; other processes drop their entry when its TTL ends',
      )
    }
  }

  subscribe(channel: string, listener: InvalidationListener): void {
    if (this.#closed) return
    const name = this.#prefix + channel
    if (!this.#listeners.add(name, listener) || !this.#listen) return
    if (this.#subscriber === undefined) this.#subscriber = this.#openSubscriber()
    else if (this.#subscriber.status === 'ready') void this.#activate(this.#subscriber, [name])
  }

  close(): Promise<void> {
    const subscriber = this.#subscriber
    this.#closed ??=
      subscriber === undefined || subscriber.status === 'end'
        ? Promise.resolve()
        : subscriber.quit().then(
            () => undefined,
            () => subscriber.disconnect(),
          )
    return this.#closed
  }

  #openSubscriber(): Redis {
    const subscriber = this.#redis.client.duplicate({
      // Named, so an operator (or a test) can tell it from the command connection in CLIENT LIST.
      connectionName: `${this.#prefix}subscriber`.replace(/[^!-~]/g, '_'),
      // Resubscribing is done here, on 'ready', so that dropping everything follows the confirmed subscription.
      autoResubscribe: false,
      lazyConnect: true,
    })
    subscriber.on('ready', () => void this.#activate(subscriber, this.#listeners.channels()))
    subscriber.on('message', (channel: string, message: string) => {
      // Messages name what to drop (a tenant id), never a secret; at debug, for tracing how fast they arrive.
      this.#log.debug({ channel, message }, 'cache invalidation received')
      this.#listeners.drop(channel, message)
    })
    // The command connection logs Redis errors already; this one says what an outage means for caches.
    subscriber.on('error', () => undefined)
    subscriber.on('close', () => {
      if (!this.#active || this.#closed) return
      this.#active = false
      this.#lost = true
      this.#log.warn('cache invalidations not received while redis is away; cached entries expire by TTL')
    })
    subscriber.connect().catch(() => undefined)
    return subscriber
  }

  async #activate(subscriber: Redis, channels: string[]): Promise<void> {
    if (channels.length === 0) return
    try {
      await subscriber.subscribe(...channels)
    } catch (err) {
      // Most likely the connection went away meanwhile, and its next 'ready' subscribes again.
      this.#log.warn(
        { err: { message: err instanceof Error ? err.message : String(err) } },
        'could not subscribe to cache invalidations; cached entries expire by TTL',
      )
      return
    }
    for (const channel of channels) this.#listeners.dropAll(channel)
    this.#active = true
    const again = this.#lost
    this.#lost = false
    this.#log.info(
      { channels },
      again
        ? 'receiving cache invalidations again; dropped every cached entry'
        : 'receiving cache invalidations',
    )
  }
}
