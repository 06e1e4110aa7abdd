// Cursor pagination at run time; the query and page schemas are in contracts/pagination.ts. A cursor names
// the sort key of the last item returned; the next page is everything strictly after that key, so rows
// inserted meanwhile never shift a walk or repeat an item. (A bigserial is taken at insert, not at commit:
// only the change feed, which sorts by transaction, promises never to pass over a row that commits late.)
//
// A cursor is sealed (CursorSeal): AES-256-GCM under a key derived from ENCRYPTION_KEY, bound to its list. So
// it is tamper-evident (a forged, edited or another list's cursor is 400 invalid-parameters) and reveals
// nothing: not the ids, sequence numbers or transaction ids it holds, which are counters of the whole service.

import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import type { PageQuery } from '@pos/contracts/pagination'
import { ProblemError } from './problems.js'
import type { Secrets } from './secrets.js'

/** What a repository needs to read one page: where to start and how many items. */
export interface PageRequest<Position> {
  readonly after: Position | undefined
  readonly limit: number
}

/** One page as a repository read it. */
export interface Slice<Item, Position> {
  readonly items: Item[]
  /** The sort key of the last item in `items`; undefined when the page is empty. */
  readonly last: Position | undefined
  readonly hasMore: boolean
}

/**
 * Cuts rows read with `limit + 1` into a page: the extra row is never returned, it only tells that another
 * page follows.
 */
export function sliceRows<Row, Item, Position>(
  rows: readonly Row[],
  limit: number,
  toItem: (row: Row) => Item,
  positionOf: (row: Row) => Position,
): Slice<Item, Position> {
  const shown = rows.length > limit ? rows.slice(0, limit) : rows
  const lastRow = shown.at(-1)
  return {
    items: shown.map(toItem),
    last: lastRow === undefined ? undefined : positionOf(lastRow),
    hasMore: rows.length > limit,
  }
}

// Keys are unsigned decimal integers (bigserial ids, 64-bit transaction ids, microseconds since the epoch) or
// lowercase UUIDs (the tie-breaker of a list sorted by creation time).
const DECIMAL = /^(0|[1-9][0-9]{0,19})$/
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const CURSOR_PATTERN = /^[A-Za-z0-9_-]+$/

const NONCE_BYTES = 12
const TAG_BYTES = 16

/**
 * Seals and opens cursors: base64url of a random nonce, the AES-256-GCM ciphertext of the keys and its tag, with
 * the list's name as additional data. A cursor of 20-digit keys stays far below MAX_CURSOR_LENGTH (200).
 * During a key rotation, cursors sealed under the previous ENCRYPTION_KEY still open.
 */
export class CursorSeal {
  readonly #keys: readonly Buffer[]

  /** `keys`: the current key first, then any previous one, 32 bytes each. */
  constructor(keys: readonly Buffer[]) {
    if (keys.length === 0 || keys.some((key) => key.length !== 32))
      throw new Error('cursor keys are 32 bytes')
    this.#keys = keys
  }

  /** The seal of a process: keys derived from its ENCRYPTION_KEY (and ENCRYPTION_KEY_PREVIOUS). */
  static of(secrets: Secrets): CursorSeal {
    return new CursorSeal(secrets.deriveKeys('cursors'))
  }

  seal(list: string, payload: string): string {
    const nonce = randomBytes(NONCE_BYTES)
    const cipher = createCipheriv('aes-256-gcm', this.#keys[0] as Buffer, nonce)
    cipher.setAAD(Buffer.from(`cursor:${list}`, 'utf8'))
    const sealed = Buffer.concat([cipher.update(payload, 'utf8'), cipher.final(), cipher.getAuthTag()])
    return Buffer.concat([nonce, sealed]).toString('base64url')
  }

  /** The payload sealed for this list, or undefined for anything else (forged, edited, another list's). */
  open(list: string, cursor: string): string | undefined {
    if (!CURSOR_PATTERN.test(cursor)) return undefined
    const bytes = Buffer.from(cursor, 'base64url')
    // Only the spelling seal() writes: base64url decoding forgives a stray last character and padding bits.
    if (bytes.length < NONCE_BYTES + TAG_BYTES || bytes.toString('base64url') !== cursor) return undefined
    const nonce = bytes.subarray(0, NONCE_BYTES)
    const ciphertext = bytes.subarray(NONCE_BYTES, bytes.length - TAG_BYTES)
    for (const key of this.#keys) {
      const decipher = createDecipheriv('aes-256-gcm', key, nonce)
      decipher.setAAD(Buffer.from(`cursor:${list}`, 'utf8'))
      decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES))
      try {
        return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8')
      } catch {
        // Not sealed under this key: try the next one.
      }
    }
    return undefined
  }
}

/** Encodes and decodes the cursors of one list, whose sort key is `Position`. */
export class CursorCodec<Position> {
  constructor(
    private readonly list: string,
    private readonly seal: CursorSeal,
    private readonly toKeys: (position: Position) => readonly (string | number)[],
    /** The position the keys stand for, or undefined when they cannot be one. */
    private readonly fromKeys: (keys: readonly string[]) => Position | undefined,
  ) {}

  encode(position: Position): string {
    return this.seal.seal(this.list, this.toKeys(position).join('.'))
  }

  /** The position a client's cursor stands for; anything this codec did not write is refused with 400. */
  decode(cursor: string): Position {
    const refuse = () =>
      new ProblemError('invalid-parameters', 'The cursor in ?after= is not valid for this list')
    const payload = this.seal.open(this.list, cursor)
    if (payload === undefined) throw refuse()
    const keys = payload.split('.')
    if (!keys.every((key) => DECIMAL.test(key) || UUID.test(key))) throw refuse()
    let position: Position | undefined
    try {
      position = this.fromKeys(keys)
    } catch {
      // A key of the wrong kind for this list (a UUID where a number belongs) may throw while it is read.
      throw refuse()
    }
    // Only the canonical spelling of the keys: a sealed cursor is one this service wrote, but say so anyway.
    if (position === undefined || this.toKeys(position).join('.') !== payload) throw refuse()
    return position
  }

  /** The page a list's query string asks for. */
  request(query: PageQuery): PageRequest<Position> {
    return { after: query.after === undefined ? undefined : this.decode(query.after), limit: query.limit }
  }

  /** The response body of a page: nextCursor is null when no item follows. */
  page<Item>(slice: Slice<Item, Position>): { data: Item[]; nextCursor: string | null } {
    const next = slice.hasMore && slice.last !== undefined ? this.encode(slice.last) : null
    return { data: slice.items, nextCursor: next }
  }
}

/** A decimal key as a safe integer, or undefined. */
function safeInteger(key: string | undefined): number | undefined {
  const n = key !== undefined && DECIMAL.test(key) ? Number(key) : Number.NaN
  return Number.isSafeInteger(n) ? n : undefined
}

/** Cursors of a list ordered by its table's bigserial id. */
export function idCursor(list: string, seal: CursorSeal): CursorCodec<number> {
  return new CursorCodec<number>(
    list,
    seal,
    (id) => [id],
    (keys) => (keys.length === 1 ? safeInteger(keys[0]) : undefined),
  )
}

/**
 * Where a row of a table keyed by UUID stands in creation order: its creation time in microseconds since the
 * epoch (PostgreSQL's own precision, which a JavaScript Date would cut to milliseconds), then its id.
 */
export interface CreatedPosition {
  readonly createdAtMicros: number
  readonly id: string
}

/** Cursors of a list ordered by creation time, then UUID. */
export function createdCursor(list: string, seal: CursorSeal): CursorCodec<CreatedPosition> {
  return new CursorCodec<CreatedPosition>(
    list,
    seal,
    (position) => [position.createdAtMicros, position.id],
    (keys) => {
      const [micros, id] = keys
      const createdAtMicros = safeInteger(micros)
      if (keys.length !== 2 || createdAtMicros === undefined || id === undefined || !UUID.test(id))
        return undefined
      return { createdAtMicros, id }
    },
  )
}
