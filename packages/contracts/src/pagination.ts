// Cursor pagination, the same on every list but the short admin lists (ListPage, answered whole): `?limit=`
// (1..500, default 50) and `?after=<cursor>`, answered with `{ data, nextCursor }`. A cursor is opaque: pass
// back the nextCursor of the previous page, nothing else.
import { type Static, type TSchema, Type } from 'typebox'

export const DEFAULT_PAGE_LIMIT = 50
export const MAX_PAGE_LIMIT = 500
export const MAX_CURSOR_LENGTH = 200

/** The query parameters of every list; spread them into the route's querystring schema. */
export const pageQuery = {
  limit: Type.Integer({
    minimum: 1,
    maximum: MAX_PAGE_LIMIT,
    default: DEFAULT_PAGE_LIMIT,
    description: `Items per page, 1 to ${MAX_PAGE_LIMIT}`,
  }),
  after: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: MAX_CURSOR_LENGTH,
      description: 'The nextCursor of the previous page',
    }),
  ),
}

export const PageQuery = Type.Object(pageQuery)
export type PageQuery = Static<typeof PageQuery>

/** The response body of a list: one page of items and the cursor of the next page. */
export function Page<Item extends TSchema>(item: Item) {
  return Type.Object({
    data: Type.Array(item),
    nextCursor: Type.Union([Type.String(), Type.Null()], {
      description: 'Pass as ?after= to get the next page; null on the last page',
    }),
  })
}

/** The response body of a list short enough to answer whole (the admin lists): every item, no cursor. */
export function ListPage<Item extends TSchema>(item: Item) {
  return Type.Object({ data: Type.Array(item) })
}
