// The one way the SDK talks to the server: the base URL, the API key from the secure store as a bearer token,
// a timeout on every request, and the answer's problem document parsed once. Credentials are read from the
// secure store for each request and never kept, logged or put into an error.
import type { Problem } from '@pos/contracts'
import type { Static } from 'typebox'
import { toHex, utf8 } from './crypto.js'
import { ApiError, AuthError, TransportError } from './errors.js'
import type { CryptoPort, ProblemDocument, SecureStore } from './ports.js'

/** The names of the credentials in the secure store. */
export const API_KEY = 'apiKey'
export const SIGNING_SECRET = 'signingSecret'

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>

export interface TransportOptions {
  readonly baseUrl: string
  readonly secrets: SecureStore
  readonly crypto: CryptoPort
  readonly fetch: FetchLike
  readonly timeoutMs: number
  readonly now: () => number
}

export type Query = Readonly<Record<string, string | number | boolean | undefined>>

export class Transport {
  readonly #options: TransportOptions
  readonly #base: string

  constructor(options: TransportOptions) {
    this.#options = options
    this.#base = options.baseUrl.replace(/\/+$/, '')
  }

  /**
   * Sends one request with the API key (and, when `sign` and a signing secret is stored, an X-Signature over
   * the exact body). Network failures and timeouts become TransportError; any HTTP answer is returned.
   */
  async send(
    method: 'GET' | 'POST',
    path: string,
    init: { query?: Query; headers?: Record<string, string>; body?: string; sign?: boolean } = {},
  ): Promise<Response> {
    const apiKey = await this.#options.secrets.get(API_KEY)
    if (apiKey === undefined) throw new AuthError(401, undefined, 'No API key in the secure store')
    const headers: Record<string, string> = { ...init.headers, authorization: `Bearer ${apiKey}` }
    if (init.body !== undefined) headers['content-type'] = 'application/json'
    if (init.sign === true && init.body !== undefined) {
      const secret = await this.#options.secrets.get(SIGNING_SECRET)
      if (secret !== undefined) headers['x-signature'] = await this.signature(secret, init.body)
    }
    let url = `${this.#base}${path}`
    const params = Object.entries(init.query ?? {}).filter(([, v]) => v !== undefined)
    if (params.length > 0)
      url += `?${params.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`).join('&')}`
    try {
      return await this.#options.fetch(url, {
        method,
        headers,
        ...(init.body === undefined ? {} : { body: init.body }),
        signal: AbortSignal.timeout(this.#options.timeoutMs),
      })
    } catch (error) {
      // The cause is left out on purpose: some fetch implementations put the request (headers) in it.
      const timedOut = (error as { name?: string }).name === 'TimeoutError'
      throw new TransportError(
        timedOut
          ? `No answer from the server within ${this.#options.timeoutMs} ms`
          : 'The server could not be reached',
      )
    }
  }

  /** `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, as the server's ingest route verifies it. */
  async signature(secret: string, body: string): Promise<string> {
    const t = Math.floor(this.#options.now() / 1000)
    const mac = await this.#options.crypto.hmacSha256(utf8(secret), utf8(`${t}.${body}`))
    return `t=${t},v1=${toHex(mac)}`
  }

  /** GET a JSON resource; an error answer is thrown as ApiError (AuthError for 401/403). */
  async getJson<T>(path: string, query?: Query): Promise<T> {
    const response = await this.send('GET', path, query === undefined ? {} : { query })
    if (!response.ok) throw await errorOf(response)
    return (await response.json()) as T
  }
}

/** The problem document of an error answer, or undefined when the body is not one. */
export async function problemOf(response: Response): Promise<ProblemDocument | undefined> {
  try {
    const body = (await response.json()) as Partial<Static<typeof Problem>>
    if (typeof body?.type === 'string' && typeof body.status === 'number' && typeof body.title === 'string')
      return body as ProblemDocument
  } catch {
    // Not JSON: a proxy's page, say.
  }
  return undefined
}

export async function errorOf(response: Response): Promise<ApiError> {
  const problem = await problemOf(response)
  if (response.status === 401 || response.status === 403) return new AuthError(response.status, problem)
  return new ApiError(response.status, problem)
}
