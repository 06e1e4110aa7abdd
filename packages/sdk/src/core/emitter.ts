// A tiny typed event emitter, the core's own: Node's EventEmitter and the DOM's EventTarget are not on
// every platform the core runs on. A listener that throws is the app's bug; it never stops delivery.
export class Emitter<Events extends Record<string, unknown>> {
  readonly #listeners = new Map<keyof Events, Set<(payload: never) => void>>()

  /** Adds a listener; returns the function that removes it. */
  on<Name extends keyof Events>(name: Name, listener: (payload: Events[Name]) => void): () => void {
    let set = this.#listeners.get(name)
    if (set === undefined) {
      set = new Set()
      this.#listeners.set(name, set)
    }
    set.add(listener as (payload: never) => void)
    return () => this.off(name, listener)
  }

  off<Name extends keyof Events>(name: Name, listener: (payload: Events[Name]) => void): void {
    this.#listeners.get(name)?.delete(listener as (payload: never) => void)
  }

  listening(name: keyof Events): boolean {
    return (this.#listeners.get(name)?.size ?? 0) > 0
  }

  protected emit<Name extends keyof Events>(name: Name, payload: Events[Name]): void {
    for (const listener of [...(this.#listeners.get(name) ?? [])]) {
      try {
        ;(listener as (payload: Events[Name]) => void)(payload)
      } catch {
        // The app's listener failed; the SDK's own work goes on.
      }
    }
  }
}
