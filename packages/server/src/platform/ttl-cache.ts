// A small in-process cache with a time-to-live, for lookups on the hot path (API keys, sources) that may be
// a few seconds stale. Bounded: the oldest entries go first when it is full.

export class TtlCache<V> {
  readonly #entries = new Map<string, { value: V; expires: number }>()

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
  ) {}

  get(key: string): V | undefined {
    const entry = this.#entries.get(key)
    if (entry === undefined) return undefined
    if (entry.expires > Date.now()) return entry.value
    this.#entries.delete(key)
    return undefined
  }

  set(key: string, value: V): void {
    if (this.#entries.size >= this.maxEntries) {
      const oldest = this.#entries.keys().next()
      if (!oldest.done) this.#entries.delete(oldest.value)
    }
    this.#entries.set(key, { value, expires: Date.now() + this.ttlMs })
  }

  delete(key: string): void {
    this.#entries.delete(key)
  }

  /** Deletes every entry the predicate accepts; a full scan, meant for rare events such as an invalidation. */
  deleteWhere(predicate: (value: V, key: string) => boolean): void {
    for (const [key, entry] of this.#entries) if (predicate(entry.value, key)) this.#entries.delete(key)
  }

  clear(): void {
    this.#entries.clear()
  }
}
