// Turns every error, and every unknown route, into an application/problem+json response. Errors a client
// caused become 4xx with a stable type; anything else is our fault or a dependency's, a logged 5xx.
import { type IncomingMessage, maxHeaderSize, type ServerResponse, STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { ErrorObject } from 'ajv'
import type { ConnectionError, FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { isDatabaseUnreachable } from '../platform/database-errors.js'
import { pathOf } from '../platform/logger.js'
import {
  PROBLEM_CONTENT_TYPE,
  type ProblemBody,
  ProblemError,
  type ProblemType,
  problemBody,
} from '../platform/problems.js'
import { describeIssue, fieldName, schemaIssues } from './validation.js'

interface MappedError {
  readonly type: ProblemType
  readonly detail?: string
  readonly extensions?: Readonly<Record<string, unknown>>
}

function invalidPath(message: string): MappedError {
  const detail = `params ${message}`
  return {
    type: 'invalid-parameters',
    detail,
    extensions: { errors: [{ location: 'params', pointer: '/', message }] },
  }
}

// Errors Fastify raises itself. The router's messages quote the path, so they get a detail of our own.
const FASTIFY_CODES: Readonly<Record<string, MappedError>> = {
  FST_ERR_CTP_INVALID_JSON_BODY: { type: 'malformed-json' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { type: 'malformed-json' },
  FST_ERR_CTP_BODY_TOO_LARGE: { type: 'payload-too-large' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { type: 'unsupported-media-type' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { type: 'bad-request' },
  FST_ERR_BAD_URL: invalidPath('is not valid percent-encoded UTF-8'),
  FST_ERR_MAX_PARAM_LENGTH: invalidPath('has a parameter longer than the router accepts'),
}

export function sendProblem(reply: FastifyReply, status: number, body: ProblemBody): FastifyReply {
  return reply.code(status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(body))
}

/** How a detail names a field of each part of a request. */
const LOCATION_WORDS: Readonly<Record<string, string>> = {
  body: 'the body',
  querystring: 'query parameter',
  params: 'path parameter',
  headers: 'header',
}

function describeValidation(error: FastifyError): { detail: string; errors: object[] } {
  const location = error.validationContext ?? 'body'
  const issues = schemaIssues((error.validation ?? []) as ErrorObject[])
  const errors = issues.map((issue) => ({ location, ...issue }))
  const first = issues[0]
  if (first === undefined) return { detail: error.message, errors }
  const words = LOCATION_WORDS[location] ?? location
  // A body's fields are named as they are (`events[0].type`); a parameter says which kind it is.
  const detail =
    location === 'body'
      ? describeIssue(words, first)
      : `${first.pointer === '/' ? words : `${words} ${fieldName(first.pointer)}`} ${first.message}`
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
    const body = problemBody(mapped.type, mapped.detail, instance, mapped.extensions)
    return { status: body.status, body }
  }
  const status = error.statusCode ?? 500
  // Before the database check: a client that hangs up while its body is read is Node's 'aborted' error, whose
  // code ECONNRESET would otherwise pass for the database's, a logged 503.
  if (status >= 400 && status < 500) {
    // A client error Fastify raised that we have no specific type for; its message never echoes input.
    const body = { ...problemBody('bad-request', error.message, instance), status }
    return { status, body }
  }
  if (isDatabaseUnreachable(error)) {
    const body = problemBody('service-unavailable', 'The database is not reachable; retry shortly', instance)
    return { status: body.status, body }
  }
  const type: ProblemType = status === 503 ? 'service-unavailable' : 'internal-error'
  const body = problemBody(type, undefined, instance)
  return { status: body.status, body }
}

function answerError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const { status, body } = toProblem(error, pathOf(request.url))
  if (status >= 500) {
    request.log.error({ err: error }, 'request failed')
  } else {
    // The message of a client error may quote the client's input: log only its type.
    request.log.info({ problem: body.type, statusCode: status }, 'request refused')
  }
  if (error instanceof ProblemError) reply.headers(error.headers)
  else if (status === 503) reply.header('retry-after', '1')
  return sendProblem(reply, status, body)
}

/**
 * The `frameworkErrors` option of Fastify: the router's refusals (a path that is not UTF-8, an overlong path
 * parameter) come before any route or error handler, and would otherwise be answered as plain JSON.
 */
export function answerFrameworkError(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  // No route is matched, so no onSend hook adds the request id.
  reply.header('x-request-id', request.id)
  answerError(error, request, reply)
}

/**
 * The `clientErrorHandler` option of Fastify: what Node's HTTP parser refuses before there is a request to
 * route (malformed HTTP, a control or non-ASCII byte in the request line, a head over --max-http-header-size,
 * a request not received within REQUEST_TIMEOUT_MS) is answered on the socket, still as a problem document,
 * where Fastify's default would send its own JSON; then the connection is closed, as the default does.
 */
export function answerClientError(this: FastifyInstance, err: ConnectionError, socket: Socket): void {
  // A reset connection has nobody to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const body =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? problemBody('request-timeout')
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? problemBody('headers-too-large', `The request line and headers must fit in ${maxHeaderSize} bytes`)
        : problemBody('bad-request', 'The request is not valid HTTP/1.1')
  this.log.debug({ code: err.code, problem: body.type }, 'client error before a request')
  if (socket.writable) socket.write(closingAnswer(body))
  socket.destroy(err)
}

/** A whole HTTP/1.1 answer carrying a problem, for a socket no route will answer; the connection closes after it. */
function closingAnswer(body: ProblemBody): string {
  const text = JSON.stringify(body)
  return (
    `HTTP/1.1 ${body.status} ${STATUS_CODES[body.status]}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`
  )
}

/**
 * The HTTP server's `connect` listener, and what a closing server does with its sockets. A CONNECT request asks
 * for a tunnel, which never reaches a route: without a listener Node destroys the socket without a word. This
 * service opens no tunnels, so it answers a 405 problem and closes the connection.
 *
 * Node hands such a socket over outside its HTTP bookkeeping, and paused: neither REQUEST_TIMEOUT_MS nor the
 * server's closeIdleConnections and closeAllConnections reach it any more, and whatever the client sent after
 * the request's head stays unread. A client that sent more than the socket buffers (a CONNECT with a 200 KB
 * body) left a socket that had stopped reading before the client's close arrived, so it was never released,
 * and the server's close waited for it for good. So what follows the head is read and discarded until the
 * client closes, for at most `timeoutMs`, and a closing server cuts the sockets still open at once: once
 * answered, there is nothing on them to drain.
 */
function connectRefusals(timeoutMs: number) {
  const open = new Set<Duplex>()
  return {
    answer(request: IncomingMessage, socket: Duplex): void {
      const path = pathOf(request.url ?? '/')
      socket.on('error', () => undefined)
      open.add(socket)
      const deadline = setTimeout(() => socket.destroy(), timeoutMs).unref()
      socket.once('close', () => {
        clearTimeout(deadline)
        open.delete(socket)
      })
      socket.resume()
      socket.end(
        closingAnswer(problemBody('method-not-allowed', 'This service opens no CONNECT tunnels', path)),
      )
    },
    cutAll(): void {
      for (const socket of open) socket.destroy()
    },
  }
}

/**
 * The HTTP server's `checkExpectation` listener: an Expect header other than 100-continue, which Node answers
 * itself, before any route, with a bare 417. The same status, as a problem document.
 */
export function answerUnmetExpectation(request: IncomingMessage, response: ServerResponse): void {
  const text = JSON.stringify(
    problemBody('expectation-failed', 'Only Expect: 100-continue is supported', pathOf(request.url ?? '/')),
  )
  response.writeHead(417, {
    'content-type': `${PROBLEM_CONTENT_TYPE}; charset=utf-8`,
    'content-length': Buffer.byteLength(text),
  })
  response.end(text)
}

async function problems(app: FastifyInstance): Promise<void> {
  app.setErrorHandler(answerError)
  const refusals = connectRefusals(app.platform.config.requestTimeoutMs)
  app.server.on('connect', refusals.answer)
  app.addHook('preClose', (done) => {
    refusals.cutAll()
    done()
  })
  app.server.on('checkExpectation', answerUnmetExpectation)

  app.setNotFoundHandler((request, reply) => {
    const path = pathOf(request.url)
    return sendProblem(reply, 404, problemBody('not-found', `No route ${request.method} ${path}`, path))
  })
}

export default fp(problems, { name: 'problems' })
