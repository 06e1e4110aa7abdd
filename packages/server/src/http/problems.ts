// Turns every error, and every unknown route, into an application/problem+json response. Errors a client
// caused become 4xx with a stable type; anything else is our fault or a dependency's, a logged 5xx.
import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import type { ConnectionError, FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { pathOf } from '../platform/logger.js'
import {
  PROBLEM_CONTENT_TYPE,
  type ProblemBody,
  ProblemError,
  type ProblemType,
  problemBody,
  problemTypes,
} from '../platform/problems.js'

const FASTIFY_CODES: Readonly<Record<string, ProblemType>> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'malformed-json',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'malformed-json',
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload-too-large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported-media-type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'bad-request',
}

interface ValidationIssue {
  instancePath?: string
  message?: string
  params?: Record<string, unknown>
}

export function sendProblem(reply: FastifyReply, status: number, body: ProblemBody): FastifyReply {
  return reply.code(status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(body))
}

function describeValidation(error: FastifyError): { detail: string; errors: object[] } {
  const issues = (error.validation ?? []) as ValidationIssue[]
  const location = error.validationContext ?? 'body'
  const errors = issues.map((issue) => {
    const missing = issue.params?.missingProperty
    const pointer = `${issue.instancePath ?? ''}${typeof missing === 'string' ? `/${missing}` : ''}`
    return { location, pointer: pointer || '/', message: issue.message ?? 'is invalid' }
  })
  const first = errors[0]
  const detail = first
    ? `${location}${first.pointer === '/' ? '' : first.pointer} ${first.message}`
    : error.message
  return { detail, errors }
}

function toProblem(error: FastifyError, instance: string): { status: number; body: ProblemBody } {
  if (error instanceof ProblemError) return { status: error.status, body: error.toBody(instance) }
  if (error.validation) {
    const { detail, errors } = describeValidation(error)
    const type: ProblemType = error.validationContext === 'body' ? 'validation-failed' : 'invalid-parameters'
    const body = problemBody(type, detail, instance, { errors })
    return { status: body.status, body }
  }
  const mapped = error.code ? FASTIFY_CODES[error.code] : undefined
  if (mapped) {
    const body = problemBody(mapped, undefined, instance)
    return { status: body.status, body }
  }
  const status = error.statusCode ?? 500
  if (status >= 400 && status < 500) {
    // A client error Fastify raised that we have no specific type for; its message never echoes input.
    const body = { ...problemBody('bad-request', error.message, instance), status }
    return { status, body }
  }
  const type: ProblemType = status === 503 ? 'service-unavailable' : 'internal-error'
  const body = problemBody(type, undefined, instance)
  return { status: body.status, body }
}

/**
 * Answers what Node rejects before there is a request to route (malformed HTTP, headers over the limit, a
 * request not received within REQUEST_TIMEOUT_MS) with a problem document too, where Fastify's default
 * would send its own JSON; then closes the connection, as the default does.
 */
export function answerClientError(this: FastifyInstance, err: ConnectionError, socket: Socket): void {
  // A reset connection has nobody to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const type: ProblemType =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? 'request-timeout'
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? 'headers-too-large'
        : 'bad-request'
  const body = JSON.stringify(problemBody(type))
  this.log.debug({ code: err.code, problem: type }, 'client error before a request')
  if (socket.writable) {
    const { status } = problemTypes[type]
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    )
  }
  socket.destroy(err)
}

async function problems(app: FastifyInstance): Promise<void> {
  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const { status, body } = toProblem(error, pathOf(request.url))
    if (status >= 500) {
      request.log.error({ err: error }, 'request failed')
    } else {
      // The message of a client error may quote the client's input: log only its type.
      request.log.info({ problem: body.type, statusCode: status }, 'request refused')
    }
    if (error instanceof ProblemError) reply.headers(error.headers)
    return sendProblem(reply, status, body)
  })

  app.setNotFoundHandler((request, reply) => {
    const path = pathOf(request.url)
    return sendProblem(reply, 404, problemBody('not-found', `No route ${request.method} ${path}`, path))
  })
}

export default fp(problems, { name: 'problems' })
