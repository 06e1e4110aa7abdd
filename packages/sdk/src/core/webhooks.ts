// Verifies the server's outbound webhooks (Standard Webhooks): HMAC-SHA256 keyed with the secret's decoded
// bytes over `<webhook-id>.<webhook-timestamp>.<body>`, sent as `v1,<base64>` (several, space-separated,
// during a secret rotation), and a timestamp within the tolerance so a captured delivery cannot be replayed.
import { constantTimeEqual, fromBase64, toBase64, utf8, webCrypto } from './crypto.js'
import type { CryptoPort } from './ports.js'

const PREFIX = 'whsec_'

export type WebhookHeaders = Headers | Readonly<Record<string, string | readonly string[] | undefined>>

export interface VerifyWebhookOptions {
  /** Seconds a delivery's timestamp may be away from now; 300 unless given. */
  readonly toleranceSec?: number
  readonly now?: () => number
  readonly crypto?: CryptoPort
}

function header(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined
  const record = headers as Readonly<Record<string, string | readonly string[] | undefined>>
  const key = Object.keys(record).find((k) => k.toLowerCase() === name)
  const value = key === undefined ? undefined : record[key]
  return Array.isArray(value) ? value[0] : (value as string | undefined)
}

/** True when the delivery was signed with `secret` (`whsec_…`) and is recent; false otherwise. */
export async function verifyWebhook(
  secret: string,
  headers: WebhookHeaders,
  body: string,
  options: VerifyWebhookOptions = {},
): Promise<boolean> {
  const id = header(headers, 'webhook-id')
  const timestamp = header(headers, 'webhook-timestamp')
  const signatures = header(headers, 'webhook-signature')
  if (id === undefined || timestamp === undefined || signatures === undefined) return false
  if (!/^\d{1,12}$/.test(timestamp)) return false
  const nowSec = Math.floor((options.now ?? Date.now)() / 1000)
  if (Math.abs(nowSec - Number(timestamp)) > (options.toleranceSec ?? 300)) return false
  const key = fromBase64(secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret)
  if (key === undefined || key.length === 0) return false
  const crypto = options.crypto ?? webCrypto()
  const expected = toBase64(await crypto.hmacSha256(key, utf8(`${id}.${timestamp}.${body}`)))
  let valid = false
  for (const candidate of signatures.split(' ')) {
    const [version, signature] = candidate.split(',', 2)
    // Every candidate is compared, so timing does not tell which one matched.
    if (version === 'v1' && signature !== undefined && constantTimeEqual(signature, expected)) valid = true
  }
  return valid
}
