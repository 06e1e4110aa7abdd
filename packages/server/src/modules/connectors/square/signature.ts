// Square's webhook signature: `x-square-hmacsha256-signature` is the base64 HMAC-SHA256, keyed with the
// subscription's signature key, of the notification URL followed by the raw body. Compared in constant time
// on the decoded bytes.
import { createHmac } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import { sameBytes } from '../../../platform/secret-compare.js'

export const SQUARE_SIGNATURE_HEADER = 'x-square-hmacsha256-signature'

export function squareSignature(
  signatureKey: string,
  notificationUrl: string,
  rawBody: Buffer | string,
): string {
  return createHmac('sha256', signatureKey).update(notificationUrl).update(rawBody).digest('base64')
}

export function verifySquareSignature(
  signatureKey: string,
  notificationUrl: string,
  rawBody: Buffer,
  headers: IncomingHttpHeaders,
): boolean {
  const header = headers[SQUARE_SIGNATURE_HEADER]
  if (typeof header !== 'string' || !/^[A-Za-z0-9+/]{43}=$/.test(header.trim())) return false
  const expected = createHmac('sha256', signatureKey).update(notificationUrl).update(rawBody).digest()
  return sameBytes(Buffer.from(header.trim(), 'base64'), expected)
}
