// Standard Webhooks signing (https://www.standardwebhooks.com): a secret is `whsec_` and the base64 of 24
// random bytes; each attempt is signed with HMAC-SHA256 over `<webhook-id>.<webhook-timestamp>.<body>`, keyed
// with the secret's decoded bytes, and sent as `v1,<base64>`. During a rotation both secrets sign, their
// signatures separated by a space, which the specification allows and its libraries accept.
import { createHmac, randomBytes } from 'node:crypto'

const PREFIX = 'whsec_'
const SECRET_BYTES = 24

export function generateWebhookSecret(): string {
  return `${PREFIX}${randomBytes(SECRET_BYTES).toString('base64')}`
}

export function signatureOf(secret: string, id: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.slice(PREFIX.length), 'base64')
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`
}

/** The `webhook-signature` header: one signature per active secret. */
export function signatureHeader(
  secrets: readonly string[],
  id: string,
  timestamp: number,
  body: string,
): string {
  return secrets.map((secret) => signatureOf(secret, id, timestamp, body)).join(' ')
}
