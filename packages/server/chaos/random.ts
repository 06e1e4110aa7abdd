// A seeded pseudo-random generator (mulberry32): the same --seed gives the chaos suite the same fault schedule
// and the same client choices (replays, regrouped duplicates), so a failing run can be run again.

export interface Random {
  /** In [0, 1). */
  next(): number
  /** An integer in [0, n). */
  below(n: number): number
  pick<T>(items: readonly T[]): T
}

export function seededRandom(seed: number): Random {
  let state = seed >>> 0
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
  const below = (n: number) => Math.floor(next() * n)
  return { next, below, pick: (items) => items[below(items.length)]! }
}
