// Pushes a metrics snapshot to a Prometheus Pushgateway: the final snapshot at shutdown (main.ts) and the load
// test's (bench/loadtest.ts), so that the last numbers of a process that no Prometheus will scrape again are
// kept. One PUT of the text format to /metrics/job/<job>/instance/<instance>, which replaces what that job and
// instance pushed before.
//
// One attempt under a timeout, not the outbound layer (platform/outbound): that layer is for the targets the
// service works with, each behind a breaker and a retry budget shared by the fleet; a push is made once, by a
// process on its way out, to the operator's own gateway, and a failure is only logged.
import { request } from 'undici'

export const PUSH_TIMEOUT_MS = 5000
/**
 * The job the final snapshot is pushed as; the instance is the host name (the pod's name in Kubernetes). Not
 * the scrape job (pos-integration-service): a Prometheus scraping the gateway with honor_labels must not mix a
 * dead process's last values into the live series the alerts read.
 */
export const PUSH_JOB = 'pos-integration-service-shutdown'
/** The job the load test pushes the server's metrics after its run as (bench/loadtest.ts). */
export const LOADTEST_PUSH_JOB = 'pos-integration-service-loadtest'

export interface PushTarget {
  /** The Pushgateway's base URL, e.g. http://pushgateway:9091 (a path prefix is kept). */
  readonly url: string
  readonly job: string
  readonly instance: string
}

export type PushOutcome =
  | { readonly pushed: true; readonly url: string }
  | { readonly pushed: false; readonly url: string; readonly error: string }

/** Where a push of `target` goes: each grouping label value is one path segment. */
export function pushUrl(target: PushTarget): string {
  const base = target.url.endsWith('/') ? target.url : `${target.url}/`
  const path = `metrics/job/${encodeURIComponent(target.job)}/instance/${encodeURIComponent(target.instance)}`
  return new URL(path, base).toString()
}

/** Sends `text` (the Prometheus text format); answers whether the gateway took it, never throws. */
export async function pushMetrics(
  target: PushTarget,
  text: string,
  timeoutMs = PUSH_TIMEOUT_MS,
): Promise<PushOutcome> {
  const url = pushUrl(target)
  try {
    const response = await request(url, {
      method: 'PUT',
      headers: { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' },
      body: text,
      signal: AbortSignal.timeout(timeoutMs),
    })
    const answer = await response.body.text()
    if (response.statusCode >= 200 && response.statusCode < 300) return { pushed: true, url }
    return { pushed: false, url, error: `HTTP ${response.statusCode}: ${answer.slice(0, 500).trim()}` }
  } catch (err) {
    return { pushed: false, url, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) }
  }
}
