// The process's life as the health endpoints report it: starting until start-up has finished, then started,
// then stopping from the first shutdown signal on. Transitions only move forward.
export type Phase = 'starting' | 'started' | 'stopping'

export class Lifecycle {
  #phase: Phase = 'starting'
  #waitingFor = 'start-up has not begun'
  readonly startedAt = Date.now()

  get phase(): Phase {
    return this.#phase
  }

  /** While starting: what start-up is waiting for, for /startupz. */
  get waitingFor(): string {
    return this.#waitingFor
  }

  waitFor(what: string): void {
    this.#waitingFor = what
  }

  markStarted(): void {
    if (this.#phase === 'starting') this.#phase = 'started'
  }

  /** Returns false when shutdown had already begun, so a second signal does not start a second shutdown. */
  beginShutdown(): boolean {
    if (this.#phase === 'stopping') return false
    this.#phase = 'stopping'
    return true
  }
}
