// Hand-written SQL for hot paths, rendered from the Drizzle schema. A statement names its tables and columns
// through the schema's objects, so a renamed column breaks the build, not production; its parameters and rows
// are typed from the same columns. The text is fixed, so the driver prepares it once per connection by name.
import { type Column, getTableName, type Table } from 'drizzle-orm'

/** A named statement with positional parameters `Params` that yields rows of type `Row`. */
export interface Statement<Params extends readonly unknown[] = readonly unknown[], Row = unknown> {
  readonly name: string
  readonly text: string
  /** Type-only: carries the contract from the definition to every call site. */
  readonly contract?: { readonly params: Params; readonly row: Row }
}

export function statement<Params extends readonly unknown[], Row>(
  name: string,
  text: string,
): Statement<Params, Row> {
  return { name, text }
}

type Kind<C extends Column> = C['_']['columnType']
type Nullable<C extends Column, T> = C['_']['notNull'] extends true ? T : T | null

/** What the driver returns for a column: int8 and numeric arrive as text, timestamps as Date. */
export type RawValue<C extends Column> = Nullable<
  C,
  Kind<C> extends 'PgBigSerial53' | 'PgBigInt53' | 'PgNumeric'
    ? string
    : Kind<C> extends 'PgTimestamp'
      ? Date
      : Kind<C> extends 'PgJsonb'
        ? unknown
        : C['_']['data']
>

/** What a statement passes for a column: JSON as its text, timestamps as ISO strings, numeric as text. */
export type ParamValue<C extends Column> = Nullable<
  C,
  Kind<C> extends 'PgJsonb' | 'PgTimestamp' | 'PgNumeric'
    ? string
    : Kind<C> extends 'PgBigSerial53' | 'PgBigInt53'
      ? number | string
      : C['_']['data']
>

/** What a JSON record passes for a column (see `recordset`): JSON as the value itself, the rest as ParamValue. */
export type JsonFieldValue<C extends Column> = Kind<C> extends 'PgJsonb' ? unknown : ParamValue<C>

/** A row of a `recordset(...)`, one field per column. */
export type RecordOf<M extends Readonly<Record<string, Column>>> = {
  -readonly [K in keyof M]: JsonFieldValue<M[K]>
}

/** A row selected through `select(columns)`: each alias typed by its column. */
export type RowOf<M extends Readonly<Record<string, Column>>> = { -readonly [K in keyof M]: RawValue<M[K]> }

/** One array per column, as `unnest(...)` reads them. */
export type ColumnArrays<C extends readonly Column[]> = { -readonly [K in keyof C]: ParamValue<C[K]>[] }

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`

/** The quoted name of a table. */
export const table = (t: Table): string => quote(getTableName(t))

/** The quoted name of a column, optionally qualified by a table alias. */
export const column = (c: Column, alias?: string): string =>
  alias === undefined ? quote(c.name) : `${alias}.${quote(c.name)}`

/** A comma-separated column list, e.g. for an INSERT. */
export const columns = (...cs: readonly Column[]): string => cs.map((c) => column(c)).join(', ')

/** `name AS alias, ...` for a RowOf<M>. */
export function select<M extends Readonly<Record<string, Column>>>(map: M, alias?: string): string {
  return Object.entries(map)
    .map(([key, c]) => `${column(c, alias)} AS ${quote(key)}`)
    .join(', ')
}

/** The typed array parameters `$n::type[]` for the columns, numbered from `first`. */
export function arrays(first: number, cs: readonly Column[]): string {
  return cs.map((c, i) => `$${first + i}::${c.getSQLType()}[]`).join(', ')
}

/**
 * `jsonb_to_recordset($n::jsonb) AS (field type, ...)`: rows passed as one JSON array of `RecordOf<M>` objects,
 * each field read as its column's type. For rows with long text and JSON values it costs far less than one
 * array per column: the driver writes one JSON text and PostgreSQL parses it once, where an array literal has
 * every element quoted and escaped by the driver and unescaped again by the server. jsonb, not json: a jsonb
 * field goes into its column as parsed, where json would parse each one's text again (docs/performance.md,
 * session 7). Use it as `ROWS FROM (recordset(...)) WITH ORDINALITY` to keep the rows' order.
 */
export function recordset(param: number, fields: Readonly<Record<string, Column>>): string {
  const list = Object.entries(fields).map(([field, c]) => `${quote(field)} ${c.getSQLType()}`)
  return `jsonb_to_recordset($${param}::jsonb) AS (${list.join(', ')})`
}

/** Rows turned into one array per column, as unnest() takes them. */
export function toColumnArrays<const Row extends readonly unknown[]>(
  rows: readonly Row[],
  width: Row['length'],
): { -readonly [K in keyof Row]: Row[K][] } {
  const out: unknown[][] = Array.from({ length: width }, () => new Array(rows.length))
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r]!
    for (let c = 0; c < width; c++) out[c]![r] = row[c]
  }
  return out as { -readonly [K in keyof Row]: Row[K][] }
}
