// A wake-up call from one part of a process to a loop that waits for work: the loop waits with an upper bound
// and an abort signal; `wake()` ends the wait at once. A wake given while the loop is not waiting is kept, so
// the next wait returns at once: work announced between two waits is never slept through.

export class Wakeup {
  #pending = false
  #waiter: (() => void) | undefined

  wake(): void {
    if (this.#waiter === undefined) this.#pending = true
    else this.#waiter()
  }

  /**
   * Resolves on the next wake (at once when one is pending), after `ms`, or when `signal` aborts, whichever
   * comes first. One waiter at a time.
   */
  wait(ms: number, signal: AbortSignal): Promise<void> {
    if (this.#pending || signal.aborted) {
      this.#pending = false
      return Promise.resolve()
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        signal.removeEventListener('abort', done)
        this.#waiter = undefined
        resolve()
      }
      const timer = setTimeout(done, ms)
      signal.addEventListener('abort', done, { once: true })
      this.#waiter = done
    })
  }
}
