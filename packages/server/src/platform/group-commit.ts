// Group commit: requests that arrive while a transaction is being written wait for the next one, and then
// share it, and its commit, with every request that queued meanwhile. No timer delays anything: under light
// load each request gets its own transaction at once; under heavy load batches grow by themselves, and one
// fsync makes many requests durable. Each caller is answered only after its own batch committed.
//
// Items that must not share a transaction (two requests with the same idempotency key) carry the same
// `exclusiveKey`; the second waits for a later batch, so it sees the first one's committed outcome.

export interface GroupCommitOptions<Item> {
  /** Batches written at the same time (each holds one database connection while it runs). */
  readonly concurrency: number
  /**
   * While a batch is being written, another starts only once at least this much weight waits (default 0: at
   * once). A second commit then carries a commit's worth of work; started for a few small items it would only
   * split the next batch in two and pay for two commits where one would do.
   */
  readonly overlapWeight?: number
  /** Upper bound on the summed weight of one batch (weight: events, so statements stay small). */
  readonly maxWeight: number
  readonly weight: (item: Item) => number
  readonly exclusiveKey?: (item: Item) => string | undefined
}

interface Pending<Item, Result> {
  readonly item: Item
  readonly resolve: (result: Result) => void
  readonly reject: (error: unknown) => void
}

/**
 * `write` receives a batch and returns one result per item, in order. It decides how a bad item is kept
 * from failing its neighbours; if it throws, every item of the batch is rejected with that error.
 */
export class GroupCommitter<Item, Result> {
  readonly #queue: Pending<Item, Result>[] = []
  readonly #busyKeys = new Set<string>()
  #running = 0
  /** The summed weight of the queue. */
  #queuedWeight = 0

  constructor(
    private readonly write: (batch: Item[]) => Promise<Result[]>,
    private readonly options: GroupCommitOptions<Item>,
  ) {}

  submit(item: Item): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject })
      this.#queuedWeight += this.options.weight(item)
      this.#schedule()
    })
  }

  /** Requests waiting for a batch (not counting those being written). */
  get queued(): number {
    return this.#queue.length
  }

  /** Batches being written now. */
  get writing(): number {
    return this.#running
  }

  #schedule(): void {
    const { concurrency, overlapWeight = 0 } = this.options
    while (this.#running < concurrency && this.#queue.length > 0) {
      if (this.#running > 0 && this.#queuedWeight < overlapWeight) return
      const batch = this.#take()
      if (batch.length === 0) return
      this.#running++
      void this.#run(batch)
    }
  }

  #take(): Pending<Item, Result>[] {
    const { maxWeight, weight, exclusiveKey } = this.options
    const batch: Pending<Item, Result>[] = []
    const keys = new Set<string>()
    let total = 0
    let i = 0
    while (i < this.#queue.length) {
      const pending = this.#queue[i]!
      const w = weight(pending.item)
      if (batch.length > 0 && total + w > maxWeight) break
      const key = exclusiveKey?.(pending.item)
      if (key !== undefined && (this.#busyKeys.has(key) || keys.has(key))) {
        i++
        continue
      }
      this.#queue.splice(i, 1)
      batch.push(pending)
      total += w
      this.#queuedWeight -= w
      if (key !== undefined) keys.add(key)
    }
    for (const key of keys) this.#busyKeys.add(key)
    return batch
  }

  async #run(batch: Pending<Item, Result>[]): Promise<void> {
    try {
      const results = await this.write(batch.map((p) => p.item))
      for (let i = 0; i < batch.length; i++) batch[i]!.resolve(results[i]!)
    } catch (err) {
      for (const pending of batch) pending.reject(err)
    } finally {
      const { exclusiveKey } = this.options
      if (exclusiveKey) {
        for (const pending of batch) {
          const key = exclusiveKey(pending.item)
          if (key !== undefined) this.#busyKeys.delete(key)
        }
      }
      this.#running--
      this.#schedule()
    }
  }
}
