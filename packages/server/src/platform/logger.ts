// The process logger (pino, handed to Fastify as its loggerInstance). Secrets and personal data are redacted
// wherever they appear in a logged object, and requests are logged by path, never with their query string.
import { type DestinationStream, type Logger, pino } from 'pino'
import type { LogLevel } from '../config.js'
import { loggableDatabaseError } from './database-errors.js'

/** Headers that carry credentials or signatures. */
const SECRET_HEADERS = [
  'authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'x-admin-token',
  'x-signature',
  'x-shopify-hmac-sha256',
  'x-square-hmacsha256-signature',
  'x-square-signature',
  'proxy-authorization',
]

/** Field names that carry secrets or personal data, in any casing convention we accept. */
const SENSITIVE_FIELDS = [
  'password',
  'token',
  'accessToken',
  'access_token',
  'refreshToken',
  'refresh_token',
  'secret',
  'signingSecret',
  'signing_secret',
  'apiKey',
  'api_key',
  'key',
  'encryptionKey',
  'encryptionKeyPrevious',
  'cardNumber',
  'card_number',
  'pan',
  'cvv',
  'email',
  'phone',
  'phoneNumber',
  'phone_number',
  'customerName',
  'customer_name',
  'firstName',
  'first_name',
  'lastName',
  'last_name',
]

const CENSOR = '[redacted]'
const SENSITIVE = new Set([...SECRET_HEADERS, ...SENSITIVE_FIELDS].map((name) => name.toLowerCase()))
const MAX_DEPTH = 8

function isPlainObject(value: object): value is Record<string, unknown> {
  const prototype = Object.getPrototypeOf(value)
  return prototype === Object.prototype || prototype === null
}

/**
 * A copy of a logged value with every sensitive field censored, at any depth. It runs only for lines that
 * are written (pino's log formatter), so a request that logs nothing pays nothing; pino's own path-based
 * redaction would also run on every child logger, that is on every request. Errors and other class
 * instances are left to their serializers.
 */
function redact(value: unknown, parentKey: string, depth: number): unknown {
  if (value === null || typeof value !== 'object' || depth > MAX_DEPTH) return value
  if (Array.isArray(value)) return value.map((item) => redact(item, parentKey, depth + 1))
  if (!isPlainObject(value)) return value
  const copy: Record<string, unknown> = {}
  for (const key of Object.keys(value)) {
    const lower = key.toLowerCase()
    const sensitive = SENSITIVE.has(lower) || (parentKey === 'customer' && lower === 'name')
    copy[key] = sensitive ? CENSOR : redact(value[key], lower, depth + 1)
  }
  return copy
}

function serializeError(err: unknown): unknown {
  if (!(err instanceof Error)) return err
  return loggableDatabaseError(err) ?? pino.stdSerializers.err(err)
}

export interface LoggerOptions {
  readonly level: LogLevel
  /** Where log lines go; standard output when absent. Tests pass a stream to read them. */
  readonly destination?: DestinationStream
}

export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      formatters: { log: (object) => redact(object, '', 0) as Record<string, unknown> },
      base: { service: 'pos-integration-service' },
      timestamp: pino.stdTimeFunctions.isoTime,
      serializers: { err: serializeError },
    },
    options.destination,
  )
}

/** The path of a request URL without its query string, which may carry tokens or personal data. */
export function pathOf(url: string): string {
  const q = url.indexOf('?')
  return q === -1 ? url : url.slice(0, q)
}
