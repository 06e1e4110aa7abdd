// Request signatures for sources with a signing secret: `X-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256
// of "<t>.<raw body>">`. Every active secret (two during a rotation) is tried, each comparison in constant
// time; a timestamp more than SIGNATURE_TOLERANCE_S away from now is refused, so captures cannot be replayed.
import { createHmac, timingSafeEqual } from 'node:crypto'

export const SIGNATURE_TOLERANCE_S = 300
export const SIGNATURE_HEADER = 'x-signature'

export type SignatureVerdict = 'valid' | 'missing' | 'malformed' | 'expired' | 'mismatch'

export function signPayload(secret: string, timestamp: number, rawBody: string | Buffer): string {
  const mac = createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest('hex')
  return `t=${timestamp},v1=${mac}`
}

function parse(header: string): { timestamp: number; signatures: Buffer[] } | undefined {
  let timestamp: number | undefined
  const signatures: Buffer[] = []
  for (const part of header.split(',')) {
    const eq = part.indexOf('=')
    if (eq === -1) return undefined
    const name = part.slice(0, eq).trim()
    const value = part.slice(eq + 1).trim()
    if (name === 't' && /^\d{1,12}$/.test(value)) timestamp = Number(value)
    else if (name === 'v1' && /^[0-9a-f]{64}$/i.test(value)) signatures.push(Buffer.from(value, 'hex'))
  }
  return timestamp === undefined || signatures.length === 0 ? undefined : { timestamp, signatures }
}

export function verifySignature(
  header: string | undefined,
  secrets: readonly string[],
  rawBody: Buffer,
  nowSeconds = Math.floor(Date.now() / 1000),
): SignatureVerdict {
  if (header === undefined || header.trim() === '') return 'missing'
  const parsed = parse(header)
  if (parsed === undefined) return 'malformed'
  if (Math.abs(nowSeconds - parsed.timestamp) > SIGNATURE_TOLERANCE_S) return 'expired'
  let matched = false
  for (const secret of secrets) {
    const expected = createHmac('sha256', secret).update(`${parsed.timestamp}.`).update(rawBody).digest()
    // Every candidate is compared, even after a match, so timing says nothing about which secret matched.
    for (const candidate of parsed.signatures) {
      if (timingSafeEqual(candidate, expected)) matched = true
    }
  }
  return matched ? 'valid' : 'mismatch'
}
