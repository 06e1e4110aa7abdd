// The WebCrypto implementation of the crypto port, and the few encodings the core needs, written here so the
// core depends on no platform module (Buffer is Node's, btoa is not everywhere in React Native).
import type { CryptoPort } from './ports.js'

interface WebCrypto {
  getRandomValues<T extends ArrayBufferView>(array: T): T
  randomUUID?(): string
  subtle?: {
    importKey(
      format: 'raw',
      key: Uint8Array,
      algorithm: { name: 'HMAC'; hash: 'SHA-256' },
      extractable: boolean,
      usages: ['sign'],
    ): Promise<unknown>
    sign(algorithm: 'HMAC', key: unknown, data: Uint8Array): Promise<ArrayBuffer>
  }
}

function globalCrypto(): WebCrypto | undefined {
  return (globalThis as { crypto?: WebCrypto }).crypto
}

/** HMAC and random bytes through the platform's WebCrypto (`globalThis.crypto`). */
export function webCrypto(): CryptoPort {
  const crypto = globalCrypto()
  const subtle = crypto?.subtle
  if (crypto === undefined || subtle === undefined) {
    throw new Error(
      'WebCrypto (globalThis.crypto.subtle) is not available here: pass a crypto port to the client',
    )
  }
  return {
    async hmacSha256(key, message) {
      const imported = await subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])
      return new Uint8Array(await subtle.sign('HMAC', imported, message))
    },
    randomBytes(length) {
      return crypto.getRandomValues(new Uint8Array(length))
    },
  }
}

const encoder = new TextEncoder()

export function utf8(text: string): Uint8Array {
  return encoder.encode(text)
}

export function toHex(bytes: Uint8Array): string {
  let hex = ''
  for (const byte of bytes) hex += byte.toString(16).padStart(2, '0')
  return hex
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'

export function toBase64(bytes: Uint8Array): string {
  let out = ''
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i] as number
    const b = bytes[i + 1]
    const c = bytes[i + 2]
    const n = (a << 16) | ((b ?? 0) << 8) | (c ?? 0)
    out += ALPHABET[(n >> 18) & 63]! + ALPHABET[(n >> 12) & 63]!
    out += b === undefined ? '=' : ALPHABET[(n >> 6) & 63]!
    out += c === undefined ? '=' : ALPHABET[n & 63]!
  }
  return out
}

/** Decodes standard base64 (padding optional); undefined when the text is not base64. */
export function fromBase64(text: string): Uint8Array | undefined {
  const clean = text.replace(/=+$/, '')
  const out: number[] = []
  let buffer = 0
  let bits = 0
  for (const char of clean) {
    const value = ALPHABET.indexOf(char)
    if (value === -1) return undefined
    buffer = (buffer << 6) | value
    bits += 6
    if (bits >= 8) {
      bits -= 8
      out.push((buffer >> bits) & 0xff)
    }
  }
  return new Uint8Array(out)
}

/** Compares two strings in time that depends only on their lengths. */
export function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i)
  return diff === 0
}

/** A random (version 4) UUID from the port's random bytes. */
export function uuidV4(crypto: CryptoPort): string {
  const bytes = crypto.randomBytes(16)
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x40
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80
  const hex = toHex(bytes)
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}
