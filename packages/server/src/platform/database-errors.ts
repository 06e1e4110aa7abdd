// What a database error may tell, and to whom. Drizzle quotes the SQL and every bound parameter in its
// error message and stack, and drivers attach details that quote row values; none of that may reach a log.

/** The SQLSTATE of a database error, looking through the wrappers drivers and Drizzle put around it. */
export function sqlState(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code
  }
  return undefined
}

export const UNIQUE_VIOLATION = '23505'
export const FOREIGN_KEY_VIOLATION = '23503'

/** The driver's error under Drizzle's wrapper, when `err` is one. */
function driverError(err: Error): (Error & Record<string, unknown>) | undefined {
  const wrapped = 'query' in err && 'params' in err ? err.cause : err
  return wrapped instanceof Error && sqlState(wrapped) !== undefined
    ? (wrapped as Error & Record<string, unknown>)
    : undefined
}

/**
 * A database error as it may be logged: its SQLSTATE and the names of what it concerns (table, column,
 * constraint), never the query, its parameters or row values. A data exception (class 22) quotes the
 * offending input in its message, so its message is left out too.
 */
export function loggableDatabaseError(err: Error): Record<string, unknown> | undefined {
  const driver = driverError(err)
  if (driver === undefined) return undefined
  const code = sqlState(driver)!
  const names = ['table', 'column', 'constraint', 'schema', 'routine']
  return {
    type: 'DatabaseError',
    code,
    message: code.startsWith('22') ? `data exception ${code}` : driver.message,
    ...Object.fromEntries(names.filter((n) => typeof driver[n] === 'string').map((n) => [n, driver[n]])),
    stack: typeof driver.stack === 'string' ? driver.stack.split('\n').slice(1).join('\n') : undefined,
  }
}

// Network errors: refused, reset, timed out, no route, a name that does not resolve (yet).
const NETWORK_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
])
// SQLSTATEs of a server that is there but not taking this connection now: starting up, shutting down,
// out of connection slots. Class 08 (connection exceptions) is matched as a whole.
const NOT_NOW_STATES = new Set(['57P01', '57P02', '57P03', '53300'])
// pg's own errors for a connection that never came up or broke, which carry no code.
const PG_CONNECTION_MESSAGES = /^(Connection terminated|timeout exceeded when trying to connect)/

/**
 * Errors of a PostgreSQL server that cannot be reached now or dropped the connection, as opposed to refusing
 * a statement: start-up retries them, and a request that meets one is answered 503 with Retry-After. Not among
 * them: authentication failures (class 28) and a missing database (3D000); the process reads its settings
 * once, so retrying with the same ones cannot succeed, and exiting makes the misconfiguration visible.
 */
export function isDatabaseUnreachable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && NETWORK_ERRORS.has(code)) return true
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) {
      return code.startsWith('08') || NOT_NOW_STATES.has(code)
    }
    if (PG_CONNECTION_MESSAGES.test(e.message)) return true
  }
  return false
}
