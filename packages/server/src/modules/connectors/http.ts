// ProviderHttp on the outbound layer: the one way a provider reaches its API. Each request goes to the
// source's baseUrl with the provider's auth headers, through Outbound.call under the target (provider kind,
// source id), so timeouts, bounded retries, the retry budget and the fleet's breaker of that source apply.
// The answer is read up to 8 MiB and parsed as JSON. What the call came to becomes the contract's errors: a
// 4xx other than 429 is Unmappable (no retry fixes it), anything that got no answer worth reading is
// ProviderUnavailable with the time to try again when the provider
// named one (Retry-After) or the breaker knows it; otherwise the caller's backoff decides.
import type { ConnectorKind } from '@pos/contracts/admin'
import type { Outbound } from '../../platform/outbound/outbound.js'
import {
  type ProviderHttp,
  type ProviderRequest,
  type ProviderResponse,
  ProviderUnavailable,
  Unmappable,
} from './provider.js'

/** Provider pages (a catalog search, a batch of orders) are far larger than webhook answers. */
export const PROVIDER_MAX_BODY_BYTES = 8 * 1024 * 1024

export interface ProviderHttpOptions {
  readonly outbound: Outbound
  readonly kind: ConnectorKind
  readonly sourceId: string
  readonly baseUrl: string
  readonly headers: Readonly<Record<string, string>>
  readonly signal?: AbortSignal | undefined
}

/** A ProviderHttp that also tells whether its last failure was an open breaker (no attempt was made). */
export interface TrackedProviderHttp extends ProviderHttp {
  readonly refusedByBreaker: boolean
}

export function providerHttp(options: ProviderHttpOptions): TrackedProviderHttp {
  const { outbound, kind, sourceId, signal } = options
  const base = options.baseUrl.replace(/\/+$/, '')
  let refusedByBreaker = false
  return {
    get refusedByBreaker() {
      return refusedByBreaker
    },
    async request(request: ProviderRequest): Promise<ProviderResponse> {
      const body = request.body === undefined ? undefined : JSON.stringify(request.body)
      const outcome = await outbound.call(
        { kind, id: sourceId },
        {
          url: `${base}${request.path}`,
          method: request.method,
          headers: {
            accept: 'application/json',
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
            ...options.headers,
          },
          ...(body === undefined ? {} : { body }),
          maxBodyBytes: PROVIDER_MAX_BODY_BYTES,
        },
        signal === undefined ? {} : { signal },
      )
      refusedByBreaker = outcome.kind === 'breaker-open'
      if (outcome.kind === 'breaker-open')
        throw new ProviderUnavailable(`the ${kind} API's circuit breaker is open`, outcome.retryAt)
      if (outcome.kind === 'failed') {
        const what = outcome.reason === 'status' ? `HTTP ${outcome.status}` : outcome.reason
        throw new ProviderUnavailable(
          `${request.method} ${pathOnly(request.path)} failed after ${outcome.attempts} attempt(s): ${what}`,
          outcome.retryAfterMs === undefined ? undefined : Date.now() + outcome.retryAfterMs,
        )
      }
      if (outcome.status >= 300 || outcome.status < 200) {
        throw new Unmappable(`${request.method} ${pathOnly(request.path)} answered HTTP ${outcome.status}`)
      }
      if (outcome.bodyTruncated)
        throw new Unmappable(`${request.method} ${pathOnly(request.path)} answered more than 8 MiB`)
      let parsed: unknown
      try {
        parsed = outcome.body.length === 0 ? undefined : JSON.parse(outcome.body.toString('utf8'))
      } catch {
        throw new Unmappable(`${request.method} ${pathOnly(request.path)} answered a body that is not JSON`)
      }
      return { status: outcome.status, headers: outcome.headers, body: parsed }
    },
  }
}

/** The path without its query, for messages (a query may carry a cursor, never a secret, but is long). */
function pathOnly(path: string): string {
  const end = path.indexOf('?')
  return end === -1 ? path : path.slice(0, end)
}
