// The one door for outbound HTTP: every call to a webhook endpoint or a provider (Square, Shopify) goes
// through `Outbound.call`, which gives each attempt a timeout, retries only what a retry can fix (network
// errors, timeouts, 5xx, 429) with capped, fully jittered exponential backoff, honours Retry-After up to the
// cap, spends retries from the target's budget, and asks the target's shared breaker before each attempt.
//
// It never throws for anything the target or the network does: the answer is an outcome the caller acts on.
// `breaker-open` and a `failed` outcome with `retryAfterMs` mean "postpone the work", never "drop it".
//
// cockatiel runs the per-call policies: its retry policy repeats an attempt and waits between attempts (its
// exponential backoff, drawn with our random source, never shorter than Retry-After), and its cooperative
// timeout bounds each attempt with an AbortSignal. What it cannot hold is state shared by the fleet: the
// breaker, the probe lease and the retry budget live in Redis (shared-breaker.ts) and are asked, atomically,
// inside each attempt before its request; a refusal is an outcome the retry policy hands back untouched.
import type { IncomingHttpHeaders } from 'node:http'
import type { Readable } from 'node:stream'
import {
  DelegateBackoff,
  ExponentialBackoff,
  handleResultType,
  type IBackoff,
  type IBackoffFactory,
  type IRetryBackoffContext,
  noJitterGenerator,
  type RetryPolicy,
  retry,
  type TimeoutPolicy,
  TimeoutStrategy,
  timeout,
} from 'cockatiel'
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

/** An attempt worth retrying, as cockatiel's retry policy sees it; its backoff reads the Retry-After from it. */
class Retryable {
  constructor(readonly retryAfterMs: number | undefined) {}
}

/** Callers use a handful of attempt timeouts; a timeout policy is kept for each of this many, made anew past it. */
const KEPT_TIMEOUT_POLICIES = 16

/**
 * The wait before retry n: cockatiel's exponential backoff, min(cap, base × 2^(n-1)), with full jitter drawn
 * from our random source (its own fullJitterGenerator calls Math.random and rounds down, so tests could not fix
 * the draw), and never shorter than the Retry-After of the attempt being retried.
 */
function retryBackoff(
  settings: OutboundSettings,
  random: () => number,
): IBackoffFactory<IRetryBackoffContext<unknown>> {
  const exponential = new ExponentialBackoff<number>({
    initialDelay: settings.retryBaseDelayMs,
    maxDelay: settings.retryMaxDelayMs,
    generator: (state, options) => {
      const [bound, next] = noJitterGenerator(state, options)
      return [random() * bound, next]
    },
  })
  return new DelegateBackoff<IRetryBackoffContext<unknown>, IBackoff<unknown>>(({ result }, previous) => {
    const jittered = previous === undefined ? exponential.next() : previous.next(undefined)
    const retried = 'value' in result && result.value instanceof Retryable ? result.value : undefined
    return { delay: Math.max(retried?.retryAfterMs ?? 0, jittered.duration), state: jittered }
  })
}

class OutboundLayer implements Outbound {
  readonly backend: 'redis' | 'in-process'
  readonly #breaker: SharedBreaker
  readonly #settings: OutboundSettings
  readonly #retry: RetryPolicy
  readonly #timeouts = new Map<number, TimeoutPolicy>()

  constructor(options: OutboundOptions) {
    this.#settings = options.settings
    this.#breaker = new SharedBreaker({
      redis: options.redis,
      keyPrefix: options.keyPrefix,
      log: options.log,
      settings: options.settings,
    })
    this.backend = this.#breaker.backend
    // Only a Retryable is retried; any outcome an attempt answers ends the call as it is.
    this.#retry = retry(handleResultType(Retryable), {
      // cockatiel counts retries; OUTBOUND_RETRY_MAX_ATTEMPTS counts the first attempt too.
      maxAttempts: options.settings.retryMaxAttempts - 1,
      backoff: retryBackoff(options.settings, options.random ?? Math.random),
    })
  }

  async call(target: Target, request: OutboundRequest, options: CallOptions = {}): Promise<OutboundOutcome> {
    checkTarget(target)
    const { signal } = options
    const started = performance.now()
    const timeoutMs = request.timeoutMs ?? this.#settings.timeoutMs
    const leaseMs = timeoutMs + PROBE_LEASE_MARGIN_MS
    const maxAttempts = this.#settings.retryMaxAttempts
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
    // cockatiel's wait between attempts is a bare timer that does not listen to the signal, so during a wait the
    // call listens itself and an abort ends it at once. The policy's timer then runs out unheeded, and the
    // attempt it starts returns at once, without a request, since the signal is aborted.
    let abortWait = (): void => undefined
    const waitAborted =
      signal &&
      new Promise<OutboundOutcome>((resolve) => {
        abortWait = () => resolve(failed('aborted'))
      })

    const attemptOnce = async (): Promise<OutboundOutcome | Retryable> => {
      signal?.removeEventListener('abort', abortWait)
      if (signal?.aborted) return failed('aborted')
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
      const attempt = await this.#timeout(timeoutMs).execute(
        (timed) => this.#attempt(target, request, timed.signal, options),
        signal,
      )
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
      // The last attempt ends the call on its count (cockatiel's), whatever the breaker or Retry-After say.
      if (attempts >= maxAttempts) return new Retryable(retryAfterMs)
      // This attempt opened the breaker (or was a probe that failed): no retry, the whole fleet waits.
      if (state === 'open') return stoppedByBreaker(await this.#openFor(target))
      if (retryAfterMs !== undefined && retryAfterMs > this.#settings.retryMaxDelayMs)
        return failed('retry-after')
      signal?.addEventListener('abort', abortWait, { once: true })
      return new Retryable(retryAfterMs)
    }

    const retried = this.#retry.execute(attemptOnce, signal)
    try {
      const result = await (waitAborted === undefined ? retried : Promise.race([retried, waitAborted]))
      // The policy gave up on a Retryable: the attempts are spent, or the signal was aborted before a wait.
      if (result instanceof Retryable) return failed(attempts >= maxAttempts ? 'attempts' : 'aborted')
      return result
    } finally {
      signal?.removeEventListener('abort', abortWait)
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

  /**
   * cockatiel's cooperative timeout: when it runs out it aborts the attempt's signal, and undici ends the request
   * or the body read at once. The attempt's signal also follows the caller's, through a listener removed when
   * the attempt ends (not AbortSignal.any: on Node 20 a long-lived caller signal, say the shutdown signal, would
   * keep every composite of every call alive). An attempt that ended has nothing left to abort (abortOnReturn).
   */
  #timeout(timeoutMs: number): TimeoutPolicy {
    let policy = this.#timeouts.get(timeoutMs)
    if (policy === undefined) {
      policy = timeout(timeoutMs, { strategy: TimeoutStrategy.Cooperative, abortOnReturn: false })
      if (this.#timeouts.size < KEPT_TIMEOUT_POLICIES) this.#timeouts.set(timeoutMs, policy)
    }
    return policy
  }

  async #attempt(
    target: Target,
    request: OutboundRequest,
    signal: AbortSignal,
    options: CallOptions,
  ): Promise<Attempt> {
    const end = outboundRequestDuration.startTimer({ target_kind: target.kind })
    let attempt: Attempt
    try {
      // undici's request, not fetch: a fraction of the CPU per call. It follows no redirect: a 3xx is an
      // answer, not an instruction (following it could lead anywhere, checked or not).
      const response = await undiciRequest(request.url, {
        method: request.method as UndiciDispatcher.HttpMethod,
        headers: request.headers,
        body: request.body,
        signal,
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
      // The caller's signal first (it also fires the attempt's), then the timeout's; anything else (refused,
      // reset, DNS, TLS) is the network's.
      const reason = options.signal?.aborted ? 'aborted' : signal.aborted ? 'timeout' : 'network'
      attempt = { kind: 'failed', reason }
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
