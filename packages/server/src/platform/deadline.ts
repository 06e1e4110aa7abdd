// Waiting for something with an upper bound. The timer is cleared as soon as the awaited promise settles,
// so a finished wait leaves no timer behind; the awaited work itself is not cancelled.

export const TIMED_OUT: unique symbol = Symbol('timed out')

export async function withDeadline<T>(work: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined
  const expired = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(resolve, ms, TIMED_OUT)
  })
  try {
    return await Promise.race([work, expired])
  } finally {
    clearTimeout(timer)
  }
}
