// Small pieces every page uses: loading a resource, showing an error, confirming a destructive action, a
// table of items, a paginated one driven by the API's cursors, and the filters above a list.
import { type ReactNode, useCallback, useEffect, useState } from 'react'
import { api, type Page, query } from '../api.js'

export function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

export function ErrorNote(props: { error: string | null }) {
  if (props.error === null) return null
  return (
    <p role="alert" className="error">
      {props.error}
    </p>
  )
}

/** Loads `path` now and whenever reload() is called. */
export function useResource<T>(path: string) {
  const [data, setData] = useState<T | null>(null)
  const [error, setError] = useState<string | null>(null)
  const reload = useCallback(async () => {
    try {
      setData(await api<T>('GET', path))
      setError(null)
    } catch (err) {
      setError(message(err))
    }
  }, [path])
  useEffect(() => {
    void reload()
  }, [reload])
  return { data, error, reload }
}

/** A button that asks before it acts. */
export function ConfirmButton(props: { label: string; question: string; onConfirm: () => Promise<void> }) {
  const [asking, setAsking] = useState(false)
  if (!asking)
    return (
      <button type="button" className="danger" onClick={() => setAsking(true)}>
        {props.label}
      </button>
    )
  return (
    <span className="confirm">
      <span>{props.question}</span>
      <button
        type="button"
        className="danger"
        onClick={async () => {
          setAsking(false)
          await props.onConfirm()
        }}
      >
        Yes, {props.label.toLowerCase()}
      </button>
      <button type="button" className="secondary" onClick={() => setAsking(false)}>
        Cancel
      </button>
    </span>
  )
}

export interface Column<T> {
  readonly title: string
  readonly cell: (item: T) => ReactNode
}

/** Items as a table, a row each; `empty`, when given, is the one row shown when there are none. */
export function DataTable<T>(props: {
  caption: string
  columns: Column<T>[]
  items: readonly T[] | undefined
  rowKey: (item: T, index: number) => string
  empty?: string
}) {
  return (
    <div className="table-scroll">
      <table>
        <caption>{props.caption}</caption>
        <thead>
          <tr>
            {props.columns.map((column) => (
              <th key={column.title} scope="col">
                {column.title}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {props.items?.map((item, index) => (
            <tr key={props.rowKey(item, index)}>
              {props.columns.map((column) => (
                <td key={column.title}>{column.cell(item)}</td>
              ))}
            </tr>
          ))}
          {props.items?.length === 0 && props.empty !== undefined && (
            <tr>
              <td colSpan={props.columns.length}>{props.empty}</td>
            </tr>
          )}
        </tbody>
      </table>
    </div>
  )
}

/** One page at a time of a cursor-paginated list, with Previous and Next. */
export function PagedTable<T>(props: {
  path: string
  filters: Record<string, string | boolean | undefined>
  columns: Column<T>[]
  rowKey: (item: T) => string
  caption: string
  limit?: number
}) {
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined])
  const [page, setPage] = useState<Page<T> | null>(null)
  const [error, setError] = useState<string | null>(null)
  const after = cursors.at(-1)
  const filterKey = JSON.stringify(props.filters)

  // A change of the filters starts again from the first page.
  // biome-ignore lint/correctness/useExhaustiveDependencies: filterKey stands for the filters
  useEffect(() => setCursors([undefined]), [filterKey])

  useEffect(() => {
    let current = true
    api<Page<T>>('GET', `${props.path}${query({ ...props.filters, limit: props.limit ?? 25, after })}`)
      .then((next) => {
        if (current) {
          setPage(next)
          setError(null)
        }
      })
      .catch((err: unknown) => current && setError(message(err)))
    return () => {
      current = false
    }
  }, [props.path, props.filters, props.limit, after])

  return (
    <div>
      <ErrorNote error={error} />
      <DataTable
        caption={props.caption}
        columns={props.columns}
        items={page?.data}
        rowKey={props.rowKey}
        empty="Nothing here."
      />
      <div className="pager">
        <button
          type="button"
          className="secondary"
          disabled={cursors.length <= 1}
          onClick={() => setCursors(cursors.slice(0, -1))}
        >
          Previous page
        </button>
        <button
          type="button"
          className="secondary"
          disabled={!page?.nextCursor}
          onClick={() => page?.nextCursor && setCursors([...cursors, page.nextCursor])}
        >
          Next page
        </button>
      </div>
    </div>
  )
}

export const when = (iso: string | null) => (iso === null ? '—' : new Date(iso).toLocaleString())

/** The filters above a list: they apply as they are typed, so the form is never submitted. */
export function Filters(props: { label: string; children: ReactNode }) {
  return (
    <form className="card inline-form" aria-label={props.label} onSubmit={(event) => event.preventDefault()}>
      {props.children}
    </form>
  )
}

export function TextFilter(props: { label: string; value: string; onChange: (value: string) => void }) {
  return (
    <label>
      {props.label}
      <input value={props.value} onChange={(event) => props.onChange(event.target.value)} />
    </label>
  )
}

/**
 * Filter values and a setter by name. The object is replaced only when a value changes, so a PagedTable given
 * it loads again exactly then.
 */
export function useFilters<F extends Record<string, unknown>>(initial: F) {
  const [filters, setFilters] = useState(initial)
  const setFilter = useCallback(
    <Name extends keyof F>(name: Name, value: F[Name]) =>
      setFilters((current) => ({ ...current, [name]: value })),
    [],
  )
  return [filters, setFilter] as const
}
