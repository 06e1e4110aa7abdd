// The one way the console talks to the service: same-origin fetch with the session cookie (sent by the
// browser, never readable here), and the session's CSRF token on every change. The token is kept in memory
// only; a reloaded page asks GET /v1/admin/session for it again. The shapes of the answers are the contracts'
// (@pos/contracts/admin and the others), so a field the server changes breaks this build.
import type { Session } from '@pos/contracts/dashboard'
import type { Page as PageOf } from '@pos/contracts/pagination'
import type { Static, TUnknown } from 'typebox'

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message)
    this.name = 'ApiError'
  }
}

let csrfToken: string | null = null
let onSignedOut: () => void = () => undefined

/** Called whenever the service says the session is gone (401), so the app shows the sign-in form. */
export function whenSignedOut(listener: () => void): void {
  onSignedOut = listener
}

export function rememberSession(session: Session): void {
  csrfToken = session.csrfToken
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' }
  if (body !== undefined) headers['content-type'] = 'application/json'
  if (method !== 'GET' && csrfToken !== null) headers['x-csrf-token'] = csrfToken
  const response = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  if (response.status === 204) return undefined as T
  const text = await response.text()
  const parsed: unknown = text === '' ? undefined : JSON.parse(text)
  if (!response.ok) {
    const problem = (parsed ?? {}) as { type?: string; title?: string; detail?: string }
    if (response.status === 401 && path !== '/v1/admin/session') onSignedOut()
    throw new ApiError(
      response.status,
      problem.type ?? 'unknown',
      problem.detail ?? problem.title ?? `HTTP ${response.status}`,
    )
  }
  return parsed as T
}

/** A query string from the filters that are set. */
export function query(params: Record<string, string | number | boolean | undefined>): string {
  const search = new URLSearchParams()
  for (const [name, value] of Object.entries(params))
    if (value !== undefined && value !== '' && value !== false) search.set(name, String(value))
  const text = search.toString()
  return text === '' ? '' : `?${text}`
}

/** A page of a list as the API answers it (Page(item) in @pos/contracts/pagination), its items typed. */
export type Page<T> = Omit<Static<ReturnType<typeof PageOf<TUnknown>>>, 'data'> & { readonly data: T[] }
