// Every error the API returns is an RFC 9457 problem document. Each kind of error has one entry here: a stable
// `type` (a relative URI under /problems/ that serves its description), an HTTP status and a title.

import type { Problem } from '@pos/contracts/problem'
import type { Static } from 'typebox'

export { PROBLEM_CONTENT_TYPE } from '@pos/contracts/problem'

export const problemTypes = {
  'bad-request': { status: 400, title: 'The request is malformed' },
  'malformed-json': { status: 400, title: 'The request body is not valid JSON' },
  'invalid-parameters': { status: 400, title: 'A path, query or header parameter is invalid' },
  'idempotency-key-required': {
    status: 400,
    title: 'An Idempotency-Key header of 1 to 255 printable ASCII characters is required',
  },
  unauthorized: { status: 401, title: 'Authentication is required' },
  'signature-required': { status: 401, title: 'This source requires a signed request' },
  'signature-invalid': { status: 403, title: 'The request signature is wrong or expired' },
  forbidden: { status: 403, title: 'The credentials do not allow this' },
  'csrf-token-invalid': {
    status: 403,
    title: 'A change made with the dashboard session cookie needs its X-CSRF-Token header',
  },
  'not-found': { status: 404, title: 'No such resource' },
  'method-not-allowed': { status: 405, title: 'The method is not allowed on this resource' },
  conflict: { status: 409, title: 'The request conflicts with the current state' },
  'request-timeout': { status: 408, title: 'The request was not received in time' },
  'payload-too-large': { status: 413, title: 'The request body is too large' },
  'headers-too-large': { status: 431, title: 'The request line and headers are too large' },
  'expectation-failed': {
    status: 417,
    title: 'The Expect header asks for something other than 100-continue',
  },
  'unsupported-media-type': {
    status: 415,
    title: 'The request body has an unsupported content type or content coding',
  },
  'validation-failed': { status: 422, title: 'The request body does not match the schema' },
  'idempotency-key-reused': {
    status: 422,
    title: 'The Idempotency-Key was already used with a different request',
  },
  'unstorable-data': { status: 422, title: 'The request holds a value that cannot be stored' },
  'webhook-target-forbidden': {
    status: 422,
    title: 'The webhook URL is not allowed: https only, and never a loopback, private or link-local address',
  },
  'rate-limited': { status: 429, title: 'Too many requests' },
  'internal-error': { status: 500, title: 'Internal server error' },
  'service-unavailable': { status: 503, title: 'The service is not available right now' },
} as const satisfies Record<string, { status: number; title: string }>

export type ProblemType = keyof typeof problemTypes

/** The problem document (contracts/problem.ts), with the extension members some types carry. */
export type ProblemBody = Static<typeof Problem> & { [extension: string]: unknown }

export function problemTypeUri(type: ProblemType): string {
  return `/problems/${type}`
}

/** An error a handler throws to answer with a problem document. */
export class ProblemError extends Error {
  readonly status: number

  constructor(
    readonly problemType: ProblemType,
    detail?: string,
    readonly extensions: Readonly<Record<string, unknown>> = {},
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(detail ?? problemTypes[problemType].title)
    this.name = 'ProblemError'
    this.status = problemTypes[problemType].status
  }

  toBody(instance?: string): ProblemBody {
    return problemBody(this.problemType, this.message, instance, this.extensions)
  }
}

export function problemBody(
  type: ProblemType,
  detail?: string,
  instance?: string,
  extensions: Readonly<Record<string, unknown>> = {},
): ProblemBody {
  const { status, title } = problemTypes[type]
  return {
    ...extensions,
    type: problemTypeUri(type),
    title,
    status,
    ...(detail === undefined ? {} : { detail }),
    ...(instance === undefined ? {} : { instance }),
  }
}
