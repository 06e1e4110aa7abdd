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

function redactPaths(): string[] {
  const paths: string[] = []
  for (const header of SECRET_HEADERS) {
    paths.push(`req.headers["${header}"]`, `res.headers["${header}"]`, `headers["${header}"]`)
  }
  // pino's redaction matches fixed paths; cover a field at the top and up to three objects deep.
  for (const field of SENSITIVE_FIELDS) {
    paths.push(`["${field}"]`, `*["${field}"]`, `*.*["${field}"]`, `*.*.*["${field}"]`)
  }
  paths.push('customer.name', '*.customer.name', '*.*.customer.name')
  return paths
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
      redact: { paths: redactPaths(), censor: '[redacted]' },
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
