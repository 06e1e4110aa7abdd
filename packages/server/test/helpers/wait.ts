// The one way tests wait: for a condition, with a deadline. Never a bare sleep, never a loop without a timeout.
import { setTimeout as sleep } from 'node:timers/promises'

export interface WaitOptions {
  readonly timeoutMs?: number
  readonly intervalMs?: number
  /** What is awaited, for the error when it never happens. */
  readonly description?: string
}

/** Resolves with the first truthy value of `condition`; throws once `timeoutMs` passed without one. */
export async function waitFor<T>(condition: () => T | Promise<T>, options: WaitOptions = {}): Promise<T> {
  const { timeoutMs = 10_000, intervalMs = 20, description = 'condition' } = options
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const value = await condition()
      if (value) return value
      last = value
    } catch (err) {
      last = err
    }
    if (Date.now() >= deadline) {
      const seen = last instanceof Error ? last.message : JSON.stringify(last)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${description} (last seen: ${seen})`)
    }
    await sleep(intervalMs)
  }
}
