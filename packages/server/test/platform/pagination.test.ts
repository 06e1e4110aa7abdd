// The cursor codec and the page slicer on their own: that a cursor is sealed (it reveals nothing and cannot be
// forged or edited), that it survives a round trip, and that anything a list did not write itself is refused
// with 400 invalid-parameters.
import { randomBytes } from 'node:crypto'
import { MAX_CURSOR_LENGTH } from '@pos/contracts/pagination'
import { describe, expect, it } from 'vitest'
import { CursorCodec, CursorSeal, createdCursor, idCursor, sliceRows } from '../../src/platform/pagination.js'
import { ProblemError } from '../../src/platform/problems.js'

const seal = new CursorSeal([randomBytes(32)])

/**
 * A cursor of `list` holding exactly `keys`, sealed under the right key: what only this service could write,
 * so that what the codec checks of the keys themselves is tested too.
 */
const spell = (list: string, keys: string) => seal.seal(list, keys)

/** The error `decode` threw, asserted to be the list's 400 invalid-parameters refusal. */
function expectRefused<Position>(codec: CursorCodec<Position>, cursor: string): void {
  let thrown: unknown
  try {
    codec.decode(cursor)
  } catch (err) {
    thrown = err
  }
  expect(thrown, `cursor ${JSON.stringify(cursor)} was accepted`).toBeInstanceOf(ProblemError)
  const problem = thrown as ProblemError
  expect(problem.problemType).toBe('invalid-parameters')
  expect(problem.status).toBe(400)
  expect(problem.message).toBe('The cursor in ?after= is not valid for this list')
}

/** A list sorted by two keys, like the change feed: a 64-bit transaction id kept as a string, and a seq. */
interface FeedPosition {
  readonly txId: string
  readonly seq: number
}
const feedCursor = new CursorCodec<FeedPosition>(
  'feed',
  seal,
  (position) => [position.txId, position.seq],
  (keys) => {
    const [txId, seq] = keys
    if (keys.length !== 2 || txId === undefined || BigInt(txId) > 2n ** 64n - 1n) return undefined
    const n = Number(seq)
    return Number.isSafeInteger(n) ? { txId, seq: n } : undefined
  },
)

describe('idCursor', () => {
  const products = idCursor('products', seal)

  it('seals the id: base64url that shows neither the list nor the id, different at each encoding', () => {
    const cursor = products.encode(1_234_567_890)
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/)
    const bytes = Buffer.from(cursor, 'base64url').toString('latin1')
    expect(bytes).not.toContain('1234567890')
    expect(bytes).not.toContain('products')
    expect(products.encode(1_234_567_890)).not.toBe(cursor)
    expect(products.encode(Number.MAX_SAFE_INTEGER).length).toBeLessThanOrEqual(MAX_CURSOR_LENGTH)
  })

  it('refuses a cursor made by hand, as the old unsealed ones were (products.0 in base64)', () => {
    for (const text of ['products.0', 'products.1']) {
      expectRefused(products, Buffer.from(text, 'utf8').toString('base64url'))
      expectRefused(products, Buffer.from(text, 'utf8').toString('base64'))
    }
  })

  it('refuses a cursor sealed under another key, and opens one sealed under the previous key', () => {
    const previous = randomBytes(32)
    const before = idCursor('products', new CursorSeal([previous]))
    expectRefused(products, before.encode(7))
    const rotated = idCursor('products', new CursorSeal([randomBytes(32), previous]))
    expect(rotated.decode(before.encode(7))).toBe(7)
  })

  it('decodes what it encoded, from 0 to the largest safe integer', () => {
    for (const id of [0, 1, 42, 1_000_000, Number.MAX_SAFE_INTEGER]) {
      expect(products.decode(products.encode(id))).toBe(id)
    }
  })

  it('refuses a cursor of another list, even with the same kind of key', () => {
    expectRefused(products, idCursor('orders', seal).encode(5))
    expectRefused(products, spell('Products', '5'))
    expectRefused(products, spell('products2', '5'))
  })

  it('refuses a tampered cursor', () => {
    const cursor = products.encode(12345)
    const tampered = `${cursor.slice(0, 3)}${cursor[3] === 'A' ? 'B' : 'A'}${cursor.slice(4)}`
    expectRefused(products, tampered)
    expectRefused(products, cursor.slice(0, -2))
    expectRefused(products, `${cursor}A`)
  })

  it('refuses keys that are not the canonical spelling of an id', () => {
    for (const keys of ['042', '-1', '+1', '1.5', '1e3', '0x10', ' 1', '', '1.']) {
      expectRefused(products, spell('products', keys))
    }
  })

  it('refuses ids too large to be a safe integer', () => {
    expectRefused(products, spell('products', `${Number.MAX_SAFE_INTEGER + 1}`))
    expectRefused(products, spell('products', '99999999999999999999'))
    expectRefused(products, spell('products', '999999999999999999999'))
    expectRefused(products, spell('products', `${'9'.repeat(150)}`))
  })

  it('refuses garbage', () => {
    for (const cursor of [
      '',
      'not a cursor',
      '!!!',
      '....',
      '====',
      'a/b+c',
      'é',
      Buffer.from('\u0000\u0001', 'utf8').toString('base64url'),
      'A',
    ]) {
      expectRefused(products, cursor)
    }
    expectRefused(products, Buffer.from([0xff, 0xfe, 0x00, 0x2e, 0x31]).toString('base64url'))
  })

  it('reads the page a query asks for', () => {
    expect(products.request({ limit: 10 })).toEqual({ after: undefined, limit: 10 })
    expect(products.request({ limit: 3, after: products.encode(7) })).toEqual({ after: 7, limit: 3 })
    expect(() => products.request({ limit: 3, after: idCursor('orders', seal).encode(7) })).toThrow(
      ProblemError,
    )
  })

  it('writes a next cursor only when another page follows', () => {
    const more = products.page({ items: ['a', 'b'], last: 2, hasMore: true })
    expect(more.data).toEqual(['a', 'b'])
    expect(products.decode(more.nextCursor ?? '')).toBe(2)
    expect(products.page({ items: ['a', 'b'], last: 2, hasMore: false })).toEqual({
      data: ['a', 'b'],
      nextCursor: null,
    })
    expect(products.page({ items: [], last: undefined, hasMore: false })).toEqual({
      data: [],
      nextCursor: null,
    })
  })
})

describe('CursorCodec with a compound key', () => {
  it('round-trips every key, a 64-bit one kept as a string', () => {
    for (const position of [
      { txId: '0', seq: 0 },
      { txId: '18446744073709551615', seq: 7 },
      { txId: '123456789', seq: Number.MAX_SAFE_INTEGER },
    ]) {
      const cursor = feedCursor.encode(position)
      expect(feedCursor.decode(cursor)).toEqual(position)
    }
  })

  it('refuses keys its list cannot stand for', () => {
    expectRefused(feedCursor, spell('feed', '18446744073709551616.0'))
    expectRefused(feedCursor, spell('feed', '1'))
    expectRefused(feedCursor, spell('feed', '1.2.3'))
    expectRefused(feedCursor, spell('feed', '01.2'))
    expectRefused(feedCursor, idCursor('feed', seal).encode(1))
  })
})

describe('createdCursor', () => {
  const endpoints = createdCursor('endpoints', seal)
  const id = '0b7e3f6c-5d1a-4c2e-9f3b-8a6d2c1e4f50'

  it('round-trips a creation time in microseconds and a UUID', () => {
    for (const createdAtMicros of [0, 1_767_225_600_123_456, Number.MAX_SAFE_INTEGER]) {
      const cursor = endpoints.encode({ createdAtMicros, id })
      expect(endpoints.decode(cursor)).toEqual({ createdAtMicros, id })
    }
  })

  it('refuses keys that are not a time and a lowercase UUID', () => {
    expectRefused(endpoints, spell('endpoints', `${id}.1`))
    expectRefused(endpoints, spell('endpoints', `1.${id.toUpperCase()}`))
    expectRefused(endpoints, spell('endpoints', `1.${id}x`))
    expectRefused(endpoints, spell('endpoints', '1.2'))
    expectRefused(endpoints, spell('endpoints', `1.${id}.3`))
    expectRefused(endpoints, spell('endpoints', `${Number.MAX_SAFE_INTEGER + 1}.${id}`))
    expectRefused(endpoints, idCursor('endpoints', seal).encode(1))
  })

  it('is refused by the lists whose keys are numbers', () => {
    expectRefused(idCursor('endpoints', seal), spell('endpoints', `${id}`))
    expectRefused(feedCursor, spell('feed', `${id}.1`))
  })
})

describe('sliceRows', () => {
  const rows = [{ id: 1 }, { id: 2 }, { id: 3 }, { id: 4 }]
  const slice = (read: readonly { id: number }[], limit: number) =>
    sliceRows(
      read,
      limit,
      (row) => `item ${row.id}`,
      (row) => row.id,
    )

  it('with limit + 1 rows, shows limit items and tells that more follow', () => {
    expect(slice(rows, 3)).toEqual({ items: ['item 1', 'item 2', 'item 3'], last: 3, hasMore: true })
  })

  it('with limit rows or fewer, shows them all and tells that none follow', () => {
    expect(slice(rows, 4)).toEqual({
      items: ['item 1', 'item 2', 'item 3', 'item 4'],
      last: 4,
      hasMore: false,
    })
    expect(slice(rows.slice(0, 2), 4)).toEqual({ items: ['item 1', 'item 2'], last: 2, hasMore: false })
  })

  it('with no rows, gives an empty page without a last position', () => {
    expect(slice([], 3)).toEqual({ items: [], last: undefined, hasMore: false })
  })

  it('turns into a page whose cursor continues after the last item shown', () => {
    const products = idCursor('products', seal)
    const page = products.page(slice(rows, 3))
    expect(page.data).toEqual(['item 1', 'item 2', 'item 3'])
    expect(products.decode(page.nextCursor!)).toBe(3)
  })
})
