// The errors the SDK raises. None of them carries a request's headers, the API key or the signing secret:
// only the status, the problem the server answered (which never echoes credentials) and a message of ours.
import type { ProblemDocument } from './ports.js'

/** The server answered with an error the caller must look at (a read of the typed API, a direct ingest). */
export class ApiError extends Error {
  override readonly name: string = 'ApiError'
  constructor(
    readonly status: number,
    readonly problem: ProblemDocument | undefined,
    message = problem?.detail ?? problem?.title ?? `The server answered ${status}`,
  ) {
    super(message)
  }
}

/**
 * The credentials are missing, wrong, revoked or lack a scope (401/403), or the signature was refused.
 * Flushing stops, nothing is dropped; it starts again after `client.setCredentials()`.
 */
export class AuthError extends ApiError {
  override readonly name = 'AuthError'
}

/** The server could not be reached, did not answer in time, or answered 5xx/429. */
export class TransportError extends Error {
  override readonly name = 'TransportError'
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message)
  }
}

/**
 * Something that must never happen did (the server says an SDK batch's key came with another body before):
 * a bug in the SDK or the server. The batch's events are queued again under a new key, which is safe because
 * the server stores each event id once.
 */
export class ProtocolError extends ApiError {
  override readonly name = 'ProtocolError'
}

/** What `status.lastError` and the 'error' event say about a failure: plain data, no credentials. */
export interface FailureSummary {
  readonly kind: 'network' | 'timeout' | 'server' | 'rate-limited' | 'auth' | 'protocol' | 'client'
  readonly message: string
  readonly status?: number
  readonly problemType?: string
  readonly at: number
}
