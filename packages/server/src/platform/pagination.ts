// Cursor pagination at run time; the query and page schemas are in contracts/pagination.ts. A cursor is an
// opaque base64url string naming its list and the sort key of the last item returned; the next page is
// everything strictly after that key, so rows inserted meanwhile never shift a walk or repeat an item. (A
// bigserial is taken at insert, not at commit: only the change feed, which sorts by transaction, promises
// never to pass over a row that commits late.) A cursor that is not one of the list's own is 400
// invalid-parameters.
import type { PageQuery } from '@pos/contracts/pagination'
import { ProblemError } from './problems.js'

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

/** Encodes and decodes the cursors of one list, whose sort key is `Position`. */
export class CursorCodec<Position> {
  constructor(
    private readonly list: string,
    private readonly toKeys: (position: Position) => readonly (string | number)[],
    /** The position the keys stand for, or undefined when they cannot be one. */
    private readonly fromKeys: (keys: readonly string[]) => Position | undefined,
  ) {}

  encode(position: Position): string {
    return Buffer.from([this.list, ...this.toKeys(position)].join('.'), 'utf8').toString('base64url')
  }

  /** The position a client's cursor stands for; anything this codec did not write is refused with 400. */
  decode(cursor: string): Position {
    const refuse = () =>
      new ProblemError('invalid-parameters', 'The cursor in ?after= is not valid for this list')
    if (!CURSOR_PATTERN.test(cursor)) throw refuse()
    const [list, ...keys] = Buffer.from(cursor, 'base64url').toString('utf8').split('.')
    if (list !== this.list || !keys.every((key) => DECIMAL.test(key) || UUID.test(key))) throw refuse()
    let position: Position | undefined
    try {
      position = this.fromKeys(keys)
    } catch {
      // A key of the wrong kind for this list (a UUID where a number belongs) may throw while it is read.
      throw refuse()
    }
    // Only the canonical spelling is accepted: base64url decoding forgives stray padding bits.
    if (position === undefined || this.encode(position) !== cursor) throw refuse()
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
export function idCursor(list: string): CursorCodec<number> {
  return new CursorCodec<number>(
    list,
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
export function createdCursor(list: string): CursorCodec<CreatedPosition> {
  return new CursorCodec<CreatedPosition>(
    list,
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
