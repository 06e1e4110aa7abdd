// The group committer on its own, with a write whose every batch the test finishes by hand: no timers, no
// database. Each test drives the committer from one state to the next and asserts what was written when.
import { describe, expect, it } from 'vitest'
import { type GroupCommitOptions, GroupCommitter } from '../../src/platform/group-commit.js'

interface Item {
  readonly id: string
  readonly weight?: number
  readonly key?: string
}

interface Deferred<T> {
  readonly promise: Promise<T>
  readonly resolve: (value: T) => void
  readonly reject: (error: unknown) => void
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void
  let reject!: (error: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

/** One call of the write function, held open until the test finishes it. */
interface HeldBatch {
  readonly ids: string[]
  readonly done: Deferred<string[]>
  /** Answers every item with `<id>:ok`, in order. */
  commit(): void
  fail(error: unknown): void
}

/**
 * A committer whose write records each batch and waits for the test to commit or fail it; it also counts
 * how many batches are being written at once.
 */
function heldCommitter(options: Partial<GroupCommitOptions<Item>> = {}) {
  const batches: HeldBatch[] = []
  let running = 0
  let maxRunning = 0
  const committer = new GroupCommitter<Item, string>(
    async (items) => {
      running++
      maxRunning = Math.max(maxRunning, running)
      const done = deferred<string[]>()
      const ids = items.map((item) => item.id)
      batches.push({
        ids,
        done,
        commit: () => done.resolve(ids.map((id) => `${id}:ok`)),
        fail: (error) => done.reject(error),
      })
      try {
        return await done.promise
      } finally {
        running--
      }
    },
    {
      concurrency: 1,
      maxWeight: 100,
      weight: (item) => item.weight ?? 1,
      exclusiveKey: (item) => item.key,
      ...options,
    },
  )
  return {
    committer,
    batches,
    get running() {
      return running
    },
    get maxRunning() {
      return maxRunning
    },
  }
}

/**
 * Lets every pending promise callback run (the committer schedules the next batch from a `finally`): a
 * turn of the event loop drains the microtask queue. It waits for no time and no timer.
 */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve))

const items = (prefix: string, n: number, extra: Partial<Item> = {}): Item[] =>
  Array.from({ length: n }, (_, i) => ({ id: `${prefix}${i}`, ...extra }))

describe('GroupCommitter', () => {
  it('writes a lone item at once, in a batch of its own', async () => {
    const t = heldCommitter()
    const answer = t.committer.submit({ id: 'a' })
    expect(t.batches.map((b) => b.ids)).toEqual([['a']])
    t.batches[0]!.commit()
    await expect(answer).resolves.toBe('a:ok')
  })

  it('groups the items that queued while a batch was written into the next batch', async () => {
    const t = heldCommitter()
    const first = t.committer.submit({ id: 'a' })
    const rest = items('b', 4).map((item) => t.committer.submit(item))
    expect(t.committer.queued).toBe(4)
    t.batches[0]!.commit()
    await first
    await settle()
    expect(t.batches.map((b) => b.ids)).toEqual([['a'], ['b0', 'b1', 'b2', 'b3']])
    expect(t.committer.queued).toBe(0)
    t.batches[1]!.commit()
    await expect(Promise.all(rest)).resolves.toEqual(['b0:ok', 'b1:ok', 'b2:ok', 'b3:ok'])
  })

  it('answers each caller with its own result, in the order the write returned them', async () => {
    const committer = new GroupCommitter<number, number>(async (batch) => batch.map((n) => n * 10), {
      concurrency: 1,
      maxWeight: 100,
      weight: () => 1,
    })
    const answers = await Promise.all([1, 2, 3, 4, 5].map((n) => committer.submit(n)))
    expect(answers).toEqual([10, 20, 30, 40, 50])
  })

  describe('exclusive keys', () => {
    it('never puts two items with the same key into one batch', async () => {
      const t = heldCommitter()
      void t.committer.submit({ id: 'blocker' })
      const answers = [
        t.committer.submit({ id: 'k1', key: 'k' }),
        t.committer.submit({ id: 'x', key: 'other' }),
        t.committer.submit({ id: 'k2', key: 'k' }),
        t.committer.submit({ id: 'plain' }),
      ]
      t.batches[0]!.commit()
      await settle()
      // k2 is passed over, and the items behind it still join the batch.
      expect(t.batches[1]!.ids).toEqual(['k1', 'x', 'plain'])
      t.batches[1]!.commit()
      await settle()
      expect(t.batches[2]!.ids).toEqual(['k2'])
      t.batches[2]!.commit()
      await expect(Promise.all(answers)).resolves.toEqual(['k1:ok', 'x:ok', 'k2:ok', 'plain:ok'])
    })

    it('holds the second item with a key until the batch with the first one has finished', async () => {
      const t = heldCommitter({ concurrency: 4 })
      const first = t.committer.submit({ id: 'k1', key: 'k' })
      const second = t.committer.submit({ id: 'k2', key: 'k' })
      const other = t.committer.submit({ id: 'free' })
      // Connections are free, yet k2 must not start while k1's batch is open.
      expect(t.batches.map((b) => b.ids)).toEqual([['k1'], ['free']])
      expect(t.committer.queued).toBe(1)
      t.batches[1]!.commit()
      await other
      await settle()
      expect(t.batches).toHaveLength(2)
      t.batches[0]!.commit()
      await first
      await settle()
      expect(t.batches.map((b) => b.ids)).toEqual([['k1'], ['free'], ['k2']])
      t.batches[2]!.commit()
      await expect(second).resolves.toBe('k2:ok')
    })

    it('frees a key when its batch failed, so the next item with it is written', async () => {
      const t = heldCommitter()
      const first = t.committer.submit({ id: 'k1', key: 'k' })
      const second = t.committer.submit({ id: 'k2', key: 'k' })
      t.batches[0]!.fail(new Error('boom'))
      await expect(first).rejects.toThrow('boom')
      await settle()
      expect(t.batches.map((b) => b.ids)).toEqual([['k1'], ['k2']])
      t.batches[1]!.commit()
      await expect(second).resolves.toBe('k2:ok')
    })
  })

  describe('overlap', () => {
    it('starts a batch beside the one being written only once overlapWeight waits', async () => {
      const t = heldCommitter({ concurrency: 2, overlapWeight: 10 })
      void t.committer.submit({ id: 'first' })
      const small = items('s', 3, { weight: 3 }).map((item) => t.committer.submit(item))
      // 9 of 10 wait: a second connection is free, but a commit for so little is not worth starting.
      expect(t.batches).toHaveLength(1)
      expect(t.committer.queued).toBe(3)
      void t.committer.submit({ id: 'big', weight: 1 })
      expect(t.batches.map((b) => b.ids)).toEqual([['first'], ['s0', 's1', 's2', 'big']])
      expect(t.running).toBe(2)
      t.batches[1]!.commit()
      await Promise.all(small)
    })

    it('writes what waits below overlapWeight as soon as no batch is being written', async () => {
      const t = heldCommitter({ concurrency: 2, overlapWeight: 10 })
      const first = t.committer.submit({ id: 'first' })
      const waiting = t.committer.submit({ id: 'late', weight: 2 })
      expect(t.batches).toHaveLength(1)
      t.batches[0]!.commit()
      await first
      await settle()
      expect(t.batches.map((b) => b.ids)).toEqual([['first'], ['late']])
      t.batches[1]!.commit()
      await expect(waiting).resolves.toBe('late:ok')
    })

    it('keeps counting the waiting weight right as batches take items', async () => {
      const t = heldCommitter({ concurrency: 2, overlapWeight: 5, maxWeight: 5 })
      void t.committer.submit({ id: 'first' })
      // 8 waiting: the second batch takes 5 of them, and the 3 left are below the threshold.
      items('w', 8).map((item) => t.committer.submit(item))
      expect(t.batches.map((b) => b.ids.length)).toEqual([1, 5])
      expect(t.committer.queued).toBe(3)
      // One batch still being written, and 3 waiting: still below the threshold.
      t.batches[0]!.commit()
      await settle()
      expect(t.batches.map((b) => b.ids.length)).toEqual([1, 5])
      t.batches[1]!.commit()
      await settle()
      expect(t.batches.map((b) => b.ids.length)).toEqual([1, 5, 3])
    })
  })

  describe('weight limit', () => {
    it('never lets a batch exceed maxWeight', async () => {
      const t = heldCommitter({ maxWeight: 10 })
      void t.committer.submit({ id: 'blocker' })
      const weights = [4, 3, 3, 5, 2, 6, 4, 1]
      const answers = weights.map((weight, i) => t.committer.submit({ id: `w${i}`, weight }))
      for (let i = 0; t.committer.queued > 0 || i < t.batches.length; i++) {
        t.batches[i]!.commit()
        await settle()
      }
      await Promise.all(answers)
      const sums = t.batches
        .slice(1)
        .map((b) => b.ids.reduce((sum, id) => sum + weights[Number(id.slice(1))]!, 0))
      expect(t.batches.slice(1).map((b) => b.ids)).toEqual([
        ['w0', 'w1', 'w2'],
        ['w3', 'w4'],
        ['w5', 'w6'],
        ['w7'],
      ])
      expect(sums.every((sum) => sum <= 10)).toBe(true)
    })

    it('writes an item heavier than maxWeight alone rather than never', async () => {
      const t = heldCommitter({ maxWeight: 10 })
      void t.committer.submit({ id: 'blocker' })
      const answers = [
        t.committer.submit({ id: 'small', weight: 2 }),
        t.committer.submit({ id: 'huge', weight: 50 }),
        t.committer.submit({ id: 'after', weight: 2 }),
      ]
      for (let i = 0; i < 4; i++) {
        t.batches[i]!.commit()
        await settle()
      }
      await expect(Promise.all(answers)).resolves.toEqual(['small:ok', 'huge:ok', 'after:ok'])
      expect(t.batches.map((b) => b.ids)).toEqual([['blocker'], ['small'], ['huge'], ['after']])
    })
  })

  describe('concurrency', () => {
    it('never writes more than `concurrency` batches at once', async () => {
      const t = heldCommitter({ concurrency: 3, maxWeight: 2 })
      const answers = items('c', 20).map((item) => t.committer.submit(item))
      expect(t.running).toBe(3)
      // Finish the open batches one at a time, oldest first, until all twenty items are written.
      for (let i = 0; i < t.batches.length; i++) {
        expect(t.running).toBeLessThanOrEqual(3)
        t.batches[i]!.commit()
        await settle()
      }
      await expect(Promise.all(answers)).resolves.toHaveLength(20)
      expect(t.maxRunning).toBe(3)
      expect(t.batches.flatMap((b) => b.ids).sort()).toEqual(
        items('c', 20)
          .map((item) => item.id)
          .sort(),
      )
    })

    it('starts a queued batch as soon as any running batch finishes', async () => {
      const t = heldCommitter({ concurrency: 2 })
      void t.committer.submit({ id: 'a' })
      void t.committer.submit({ id: 'b' })
      const c = t.committer.submit({ id: 'c' })
      expect(t.batches.map((batch) => batch.ids)).toEqual([['a'], ['b']])
      t.batches[1]!.commit()
      await settle()
      expect(t.batches.map((batch) => batch.ids)).toEqual([['a'], ['b'], ['c']])
      expect(t.running).toBe(2)
      t.batches[2]!.commit()
      await expect(c).resolves.toBe('c:ok')
      t.batches[0]!.commit()
    })
  })

  describe('a write that throws', () => {
    it('rejects every item of its batch with that error, and later batches still run', async () => {
      const t = heldCommitter()
      void t.committer.submit({ id: 'blocker' }).catch(() => {})
      const doomed = items('d', 3).map((item) => t.committer.submit(item))
      t.batches[0]!.commit()
      await settle()
      expect(t.batches[1]!.ids).toEqual(['d0', 'd1', 'd2'])
      const later = items('l', 2).map((item) => t.committer.submit(item))
      const error = new Error('connection lost')
      t.batches[1]!.fail(error)
      const outcomes = await Promise.allSettled(doomed)
      expect(outcomes).toEqual(doomed.map(() => ({ status: 'rejected', reason: error })))
      await settle()
      expect(t.batches[2]!.ids).toEqual(['l0', 'l1'])
      t.batches[2]!.commit()
      await expect(Promise.all(later)).resolves.toEqual(['l0:ok', 'l1:ok'])
    })

    it('rejects only the throwing batch when others run beside it', async () => {
      const t = heldCommitter({ concurrency: 2 })
      const a = t.committer.submit({ id: 'a' })
      const b = t.committer.submit({ id: 'b' })
      const error = new Error('deadlock')
      t.batches[0]!.fail(error)
      t.batches[1]!.commit()
      await expect(a).rejects.toBe(error)
      await expect(b).resolves.toBe('b:ok')
    })
  })
})
