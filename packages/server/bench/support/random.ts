// Where the bench and the chaos suite draw their random choices from. seededRandom (mulberry32) makes a run
// repeatable: the same seed gives the chaos suite the same fault schedule, the same events and the same client
// choices, so a failing run can be run again. systemRandom is for the benches, where nothing is replayed.
import { randomInt } from 'node:crypto'

export interface Random {
  /** In [0, 1). */
  next(): number
  /** An integer in [0, n). */
  below(n: number): number
  /** An integer in [min, max). */
  between(min: number, max: number): number
  pick<T>(items: readonly T[]): T
  /** A new array of the items in random order (Fisher-Yates: the same draws give the same order on any engine). */
  shuffled<T>(items: readonly T[]): T[]
}

function fromBelow(below: (n: number) => number, next: () => number): Random {
  return {
    next,
    below,
    between: (min, max) => min + below(max - min),
    pick: (items) => items[below(items.length)]!,
    shuffled: (items) => {
      const out = [...items]
      for (let i = out.length - 1; i > 0; i--) {
        const j = below(i + 1)
        ;[out[i], out[j]] = [out[j]!, out[i]!]
      }
      return out
    },
  }
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
  return fromBelow((n) => Math.floor(next() * n), next)
}

const UNIT = 2 ** 48
export const systemRandom: Random = fromBelow(
  (n) => randomInt(n),
  () => randomInt(UNIT) / UNIT,
)

/**
 * Event ids for one stream of a seeded run (a till), shaped as UUIDs (version 4, RFC 4122 variant): 62 bits
 * drawn from `random` so they look like any device's ids, the stream number and a counter. The counter and
 * the stream, not the draws, make them unique: no two ids of one run can be equal, whatever the seed.
 */
export function seededEventIds(random: Random, stream: number): () => string {
  if (!Number.isInteger(stream) || stream < 0 || stream >= 0x1000)
    throw new RangeError(`an id stream is an integer in [0, 4096), not ${stream}`)
  const hex = (digits: number, value: number) => value.toString(16).padStart(digits, '0')
  let counter = 0
  return () => {
    counter++
    return (
      `${hex(8, random.below(2 ** 32))}-${hex(4, random.below(2 ** 16))}-4${hex(3, stream)}-` +
      `${hex(4, 0x8000 | random.below(0x4000))}-${hex(12, counter)}`
    )
  }
}
