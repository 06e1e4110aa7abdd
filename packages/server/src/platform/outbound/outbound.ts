// The one door for outbound HTTP: every call to a webhook endpoint or a provider (Square, Shopify) goes
// through `Outbound.call`, which gives each attempt a timeout, retries only what a retry can fix (network
// errors, timeouts, 5xx, 429) with capped, fully jittered exponential backoff, honours Retry-After up to the
// cap, spends retries from the target's budget, and asks the target's shared breaker before each attempt.
//
// It never throws for anything the target or the network does: the answer is an outcome the caller acts on.
// `breaker-open` and a `failed` outcome with `retryAfterMs` mean "postpone the work", never "drop it".
//
// No library: cockatiel's retry policy decides synchronously and in process (no hook for an atomic budget in
// Redis, its breaker state is a local object), so it could only have supplied the backoff formula, one line.
import type { IncomingHttpHeaders } from 'node:http'
import type { Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import { type Dispatcher as UndiciDispatcher, request as undiciRequest } from 'undici'
import type { OutboundSettings } from '../../config.js'
import { outboundRequestDuration, outboundRequestsTotal, retryAttemptsTotal } from '../metrics.js'
import {
  type BreakerSnapshot,
  SharedBreaker,
  TARGET_KINDS,
  type Target,
  type Verdict,
} from './shared-breaker.js'

export { type BreakerSnapshot, TARGET_KINDS, type Target, type TargetKind } from './shared-breaker.js'

/** Bytes of a response body kept; the rest is not read. */
/** The default bound of a response body read; a request can raise it (`maxBodyBytes`). */
export const MAX_BODY_BYTES = 64 * 1024
/** A probe lease outlives the probe's own timeout by this much, so a slow answer still settles the probe. */
const PROBE_LEASE_MARGIN_MS = 1000
const TARGET_ID = /^[\w.:@-]{1,200}$/

/** An undici dispatcher (e.g. an Agent whose DNS lookup refuses private addresses). */
export type Dispatcher = UndiciDispatcher

export interface OutboundRequest {
  readonly url: string | URL
  readonly method: string
  readonly headers?: Readonly<Record<string, string>>
  readonly body?: string | Uint8Array
  /** Upper bound of each attempt; defaults to OUTBOUND_TIMEOUT_MS. */
  readonly timeoutMs?: number
  /** Bytes of the response body kept (the rest is cut off, `bodyTruncated`); defaults to MAX_BODY_BYTES. */
  readonly maxBodyBytes?: number
}

export interface CallOptions {
  /** Aborting it ends the call (outcome `failed`, reason `aborted`) and any wait between attempts. */
  readonly signal?: AbortSignal
  readonly dispatcher?: Dispatcher
}

export type FailureReason = 'network' | 'timeout' | 'status' | 'aborted'
/**
 * Why no further attempt was made. `breaker-open`: the target's breaker opened (this call's failure opened it,
 * or another replica's did before a retry); `retryAfterMs` then says when a call may go out again.
 */
export type GaveUp = 'attempts' | 'retry-budget' | 'retry-after' | 'breaker-open' | 'aborted'

export type OutboundOutcome =
  /** The target answered with a status that is not retried (2xx, 3xx, 4xx but 429), or 5xx/429 after the last attempt is `failed`. */
  | {
      readonly kind: 'response'
      readonly status: number
      readonly headers: Headers
      /** At most the request's `maxBodyBytes` (default MAX_BODY_BYTES) of the body. */
      readonly body: Buffer
      readonly bodyTruncated: boolean
      readonly attempts: number
      readonly durationMs: number
    }
  | {
      readonly kind: 'failed'
      readonly reason: FailureReason
      /** The last status, for reason `status` (5xx or 429). */
      readonly status: number | undefined
      readonly attempts: number
      readonly gaveUp: GaveUp
      /** The target's Retry-After on the last attempt: the caller should not try again sooner. */
      readonly retryAfterMs: number | undefined
      readonly durationMs: number
    }
  /**
   * The breaker refused before any request was made: postpone the work until `retryAt` (epoch ms). Once a
   * request was made, a breaker that stops the call makes it `failed` (gaveUp `breaker-open`), since the target
   * was called and did fail. `probing`: the breaker is half-open and another call is its probe, so whether
   * the target is still down is being found out right now (`retryAt` is when that probe's lease ends);
   * otherwise the breaker is open: the target failed recently and is not called until `retryAt`.
   */
  | {
      readonly kind: 'breaker-open'
      readonly retryAt: number
      readonly probing: boolean
      readonly attempts: 0
    }

export interface Outbound {
  /** Where breakers and budgets live: `redis` (shared by the fleet) or `in-process`. */
  readonly backend: 'redis' | 'in-process'
  call(target: Target, request: OutboundRequest, options?: CallOptions): Promise<OutboundOutcome>
  /** The target's breaker as the fleet sees it, for an API or an operator. */
  breakerState(target: Target): Promise<BreakerSnapshot>
}

export interface OutboundOptions {
  readonly redis: Redis | undefined
  readonly keyPrefix: string
  readonly log: Logger
  readonly settings: OutboundSettings
  /** For tests: the random source of the jitter. */
  readonly random?: () => number
}

type Attempt =
  | {
      readonly kind: 'response'
      readonly status: number
      readonly headers: Headers
      readonly body: Buffer
      readonly truncated: boolean
    }
  | { readonly kind: 'failed'; readonly reason: 'network' | 'timeout' | 'aborted' }

type RetryReason = 'network' | 'timeout' | '5xx' | '429'

/**
 * Milliseconds a Retry-After value asks for (delta-seconds or an HTTP date), or undefined when absent or
 * unreadable. A date in the past asks for 0. Delta-seconds may carry a fraction ("2.0"): RFC 9110 names
 * whole seconds, but Shopify sends decimals, rounded up to the millisecond here.
 */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined
  const trimmed = value.trim()
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.ceil(Number(trimmed) * 1000)
  // Date.parse reads almost anything ("-5" is a year); an HTTP date always names its day or month.
  if (!/[A-Za-z]{3}/.test(trimmed)) return undefined
  const date = Date.parse(trimmed)
  if (Number.isNaN(date)) return undefined
  return Math.max(0, date - now)
}

function retryReason(attempt: Attempt): RetryReason | undefined {
  if (attempt.kind === 'failed') return attempt.reason === 'aborted' ? undefined : attempt.reason
  const { status } = attempt
  if (status === 429) return '429'
  if (status >= 500) return '5xx'
  return undefined
}

/** The breaker counts what says the target is unwell: network errors, timeouts, 5xx and 429 (it asks us to back off). */
function verdictOf(attempt: Attempt): Verdict {
  if (attempt.kind === 'failed') return attempt.reason === 'aborted' ? 'void' : 'failure'
  return retryReason(attempt) === undefined ? 'success' : 'failure'
}

function outcomeLabel(attempt: Attempt): string {
  if (attempt.kind === 'failed') return attempt.reason
  const { status } = attempt
  return status === 429 ? '429' : `${Math.floor(status / 100)}xx`
}

/** Stops reading a body; undici reports the abort as the stream's error, which nobody else listens to. */
function discard(body: Readable): void {
  body.on('error', () => undefined)
  body.destroy()
}

/** Reads at most `limit` bytes of the body and destroys the rest, so a huge answer costs nothing more. */
async function readBounded(body: Readable, limit: number): Promise<{ body: Buffer; truncated: boolean }> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body as AsyncIterable<Buffer>) {
    const room = limit - size
    if (chunk.byteLength > room) {
      chunks.push(chunk.subarray(0, room))
      discard(body)
      return { body: Buffer.concat(chunks, limit), truncated: true }
    }
    chunks.push(chunk)
    size += chunk.byteLength
  }
  return { body: Buffer.concat(chunks, size), truncated: false }
}

/** The answer's headers as the fetch API's Headers, which callers read case-insensitively. */
function headersOf(raw: IncomingHttpHeaders): Headers {
  const headers = new Headers()
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue
    if (typeof value === 'string') headers.append(name, value)
    else for (const each of value) headers.append(name, each)
  }
  return headers
}

class OutboundLayer implements Outbound {
  readonly backend: 'redis' | 'in-process'
  readonly #breaker: SharedBreaker
  readonly #settings: OutboundSettings
  readonly #random: () => number

  constructor(options: OutboundOptions) {
    this.#settings = options.settings
    this.#random = options.random ?? Math.random
    this.#breaker = new SharedBreaker({
      redis: options.redis,
      keyPrefix: options.keyPrefix,
      log: options.log,
      settings: options.settings,
    })
    this.backend = this.#breaker.backend
  }

  async call(target: Target, request: OutboundRequest, options: CallOptions = {}): Promise<OutboundOutcome> {
    checkTarget(target)
    const started = performance.now()
    const timeoutMs = request.timeoutMs ?? this.#settings.timeoutMs
    const leaseMs = timeoutMs + PROBE_LEASE_MARGIN_MS
    const durationMs = () => Math.round(performance.now() - started)
    let attempts = 0
    let last: { attempt: Attempt; reason: RetryReason; retryAfterMs: number | undefined } | undefined
    const failed = (gaveUp: GaveUp, retryAfterMs = last?.retryAfterMs): OutboundOutcome => {
      const attempt = last?.attempt
      const status = attempt?.kind === 'response' ? attempt.status : undefined
      return {
        kind: 'failed',
        reason: gaveUp === 'aborted' ? 'aborted' : attempt?.kind === 'failed' ? attempt.reason : 'status',
        status,
        attempts,
        gaveUp,
        retryAfterMs,
        durationMs: durationMs(),
      }
    }
    // The breaker stopped a call that already made requests: they failed, and no call goes out before it allows.
    const stoppedByBreaker = (breakerRetryAfterMs: number): OutboundOutcome =>
      failed('breaker-open', Math.max(last?.retryAfterMs ?? 0, breakerRetryAfterMs))

    for (;;) {
      if (options.signal?.aborted) return failed('aborted')
      const admission = await this.#breaker.admit(target, { retry: last !== undefined, leaseMs })
      if (!admission.admitted) {
        if (admission.reason === 'retry-budget') return failed('retry-budget')
        outboundRequestsTotal.inc({ target_kind: target.kind, outcome: 'breaker-open' })
        if (attempts > 0) return stoppedByBreaker(admission.retryAfterMs)
        return {
          kind: 'breaker-open',
          retryAt: Date.now() + admission.retryAfterMs,
          probing: admission.probing,
          attempts: 0,
        }
      }
      if (last !== undefined) retryAttemptsTotal.inc({ target_kind: target.kind, reason: last.reason })
      attempts++
      const attempt = await this.#attempt(target, request, timeoutMs, options)
      const state = await this.#breaker.record(target, admission.ticket, verdictOf(attempt))
      const reason = retryReason(attempt)
      if (attempt.kind === 'response' && reason === undefined) {
        return {
          kind: 'response',
          status: attempt.status,
          headers: attempt.headers,
          body: attempt.body,
          bodyTruncated: attempt.truncated,
          attempts,
          durationMs: durationMs(),
        }
      }
      if (reason === undefined) return failed('aborted')
      const retryAfterMs =
        attempt.kind === 'response' ? parseRetryAfter(attempt.headers.get('retry-after')) : undefined
      last = { attempt, reason, retryAfterMs }
      if (attempts >= this.#settings.retryMaxAttempts) return failed('attempts')
      // This attempt opened the breaker (or was a probe that failed): no retry, the whole fleet waits.
      if (state === 'open') return stoppedByBreaker(await this.#openFor(target))
      const cap = this.#settings.retryMaxDelayMs
      if (retryAfterMs !== undefined && retryAfterMs > cap) return failed('retry-after')
      const backoff = this.#random() * Math.min(cap, this.#settings.retryBaseDelayMs * 2 ** (attempts - 1))
      const delayMs = Math.max(retryAfterMs ?? 0, backoff)
      try {
        await sleep(delayMs, undefined, { signal: options.signal })
      } catch {
        return failed('aborted')
      }
    }
  }

  breakerState(target: Target): Promise<BreakerSnapshot> {
    checkTarget(target)
    return this.#breaker.inspect(target)
  }

  /** How long the open breaker still refuses calls. */
  async #openFor(target: Target): Promise<number> {
    const { retryAt } = await this.#breaker.inspect(target)
    return retryAt === undefined ? this.#settings.breakerOpenMs : Math.max(0, retryAt - Date.now())
  }

  async #attempt(
    target: Target,
    request: OutboundRequest,
    timeoutMs: number,
    options: CallOptions,
  ): Promise<Attempt> {
    // One controller per attempt, fired by its timer or by the caller. Not AbortSignal.any: on Node 20 a
    // long-lived caller signal (say, the shutdown signal) would keep every composite of every call alive.
    const controller = new AbortController()
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      controller.abort()
    }, timeoutMs)
    const abort = () => controller.abort()
    options.signal?.addEventListener('abort', abort, { once: true })
    if (options.signal?.aborted) abort()
    const end = outboundRequestDuration.startTimer({ target_kind: target.kind })
    let attempt: Attempt
    try {
      // undici's request, not fetch: a fraction of the CPU per call. It follows no redirect: a 3xx is an
      // answer, not an instruction (following it could lead anywhere, checked or not).
      const response = await undiciRequest(request.url, {
        method: request.method as UndiciDispatcher.HttpMethod,
        headers: request.headers,
        body: request.body,
        signal: controller.signal,
        dispatcher: options.dispatcher,
      })
      const status = response.statusCode
      const headers = headersOf(response.headers)
      if (status === 429 || status >= 500) {
        // Only the status and headers of a 5xx or 429 matter; release the connection at once.
        discard(response.body)
        attempt = { kind: 'response', status, headers, body: Buffer.alloc(0), truncated: false }
      } else {
        const bounded = await readBounded(response.body, request.maxBodyBytes ?? MAX_BODY_BYTES)
        attempt = { kind: 'response', status, headers, body: bounded.body, truncated: bounded.truncated }
      }
    } catch {
      // Whichever signal fired decides; anything else (refused, reset, DNS, TLS) is the network's.
      const reason = options.signal?.aborted ? 'aborted' : timedOut ? 'timeout' : 'network'
      attempt = { kind: 'failed', reason }
    } finally {
      clearTimeout(timer)
      options.signal?.removeEventListener('abort', abort)
    }
    end()
    outboundRequestsTotal.inc({ target_kind: target.kind, outcome: outcomeLabel(attempt) })
    return attempt
  }
}

/** The kind is a metric label and the id part of Redis keys: both must stay bounded. */
function checkTarget(target: Target): void {
  if (!(TARGET_KINDS as readonly string[]).includes(target.kind)) {
    throw new TypeError(`unknown outbound target kind ${JSON.stringify(target.kind)}`)
  }
  if (!TARGET_ID.test(target.id)) throw new TypeError('an outbound target id is 1 to 200 word characters')
}

/** Creates the layer once per process; says in the log whether breakers are shared by the fleet or not. */
export function createOutbound(options: OutboundOptions): Outbound {
  const layer = new OutboundLayer(options)
  if (layer.backend === 'redis') {
    options.log.info('outbound circuit breakers and retry budgets are shared by the fleet through redis')
  } else {
    options.log.warn(
      'outbound circuit breakers and retry budgets are per process (no REDIS_URL): each replica decides alone',
    )
  }
  return layer
}
