// The one way tests wait for something that happens on its own time (a server process becoming ready, a log
// line, a request arriving): poll a condition until it holds, with a deadline. A test never sleeps for a
// fixed time to let something happen; when the deadline passes, the error says what was awaited and what
// the condition saw last, so a failure on a loaded machine can be told apart from a real one.
import { setTimeout as sleep } from 'node:timers/promises'
import { inspect } from 'node:util'

export interface WaitOptions {
  /** What is awaited, for the error on timeout: "the server to answer /startupz with 200". */
  readonly description: string
  /** The deadline, counted from the call. Generous by default: the machine may be loaded. */
  readonly timeoutMs?: number
  /** The pause between two checks. */
  readonly intervalMs?: number
}

type Falsy = false | 0 | '' | null | undefined

/**
 * Thrown by a condition that knows the wait is hopeless (the process it waits on has exited): `waitFor`
 * rethrows it at once instead of trying again until the deadline.
 */
export class StopWaiting extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'StopWaiting'
  }
}

const DEFAULT_TIMEOUT_MS = 20_000
const DEFAULT_INTERVAL_MS = 20

/**
 * Checks `condition` until it returns a truthy value, and resolves with that value. A condition that throws
 * counts as not yet (a server that does not listen yet refuses the connection), except with `StopWaiting`.
 * A check still running at the deadline is not awaited further.
 */
export async function waitFor<T>(
  condition: () => T | Promise<T>,
  options: WaitOptions,
): Promise<Exclude<T, Falsy>> {
  const { description, timeoutMs = DEFAULT_TIMEOUT_MS, intervalMs = DEFAULT_INTERVAL_MS } = options
  const deadline = performance.now() + timeoutMs
  let last: { readonly value: unknown } | { readonly error: unknown } | undefined
  for (;;) {
    const remaining = deadline - performance.now()
    const outcome = await settleWithin(condition, remaining)
    if (outcome !== 'pending') {
      if ('error' in outcome && outcome.error instanceof StopWaiting) throw outcome.error
      if ('value' in outcome && outcome.value) return outcome.value as Exclude<T, Falsy>
      last = outcome
    }
    const left = deadline - performance.now()
    if (left <= 0) throw timedOut(description, timeoutMs, outcome === 'pending' ? 'pending' : last)
    await sleep(Math.min(intervalMs, left))
  }
}

/** One check of the condition, or 'pending' when it has not settled within `ms`. */
async function settleWithin<T>(
  condition: () => T | Promise<T>,
  ms: number,
): Promise<{ readonly value: T } | { readonly error: unknown } | 'pending'> {
  const check = (async () => {
    try {
      return { value: await condition() }
    } catch (error) {
      return { error }
    }
  })()
  const timer = new AbortController()
  const expired = sleep(Math.max(ms, 0), 'pending' as const, { signal: timer.signal }).catch(
    () => 'pending' as const,
  )
  try {
    return await Promise.race([check, expired])
  } finally {
    timer.abort()
  }
}

function timedOut(
  description: string,
  timeoutMs: number,
  last: { readonly value: unknown } | { readonly error: unknown } | 'pending' | undefined,
): Error {
  const show = (value: unknown) =>
    inspect(value, { depth: 3, breakLength: Number.POSITIVE_INFINITY }).slice(0, 1_000)
  const seen =
    last === undefined
      ? 'the condition was never checked'
      : last === 'pending'
        ? 'the last check was still running'
        : 'error' in last
          ? `the last check threw ${show(last.error)}`
          : `the last check returned ${show(last.value)}`
  return new Error(`timed out after ${timeoutMs} ms waiting for ${description}; ${seen}`, {
    cause: last !== undefined && last !== 'pending' && 'error' in last ? last.error : undefined,
  })
}
