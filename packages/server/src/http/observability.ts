// Request metrics and the one log line per request. Routes are labelled by their pattern, never by the raw URL.
//
// The in-flight gauge is counted on Node's own response object, not on Fastify hooks: a request enters in
// the first onRequest hook and leaves on the response's 'close' event, which Node emits exactly once
// whichever way the request ends (answered, errored, the client gone before, during or after its body, a
// reset socket, a server timeout). Fastify's onResponse needs 'finish' and onRequestAbort only covers an
// unread body, so a gauge moved by them leaks whenever a client leaves while its request is being worked on.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { pathOf } from '../platform/logger.js'
import { httpRequestDuration, httpRequestsInFlight, httpRequestsTotal } from '../platform/metrics.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Health and metrics routes: logged at debug, never authenticated or rate limited. */
    probe?: boolean
  }
}

const UNMATCHED_ROUTE = 'unmatched'

/** Requests received and not yet answered (nor given up by their client) in this process; read by shutdown. */
export function requestsInFlight(): number {
  return inFlight
}
let inFlight = 0

function leave(): void {
  inFlight--
  httpRequestsInFlight.dec()
}

/** Counts the request until its response closes; onRequest runs once per request, so this does too. */
function enter(request: FastifyRequest, reply: FastifyReply): void {
  const response = reply.raw
  inFlight++
  httpRequestsInFlight.inc()
  // The hook runs synchronously from Node's 'request' event, so the response cannot have closed yet; if a
  // hook ever ran before this one and awaited, it could have, and then 'close' would never come again.
  if (response.closed) {
    leave()
    return
  }
  response.once('close', () => {
    leave()
    // Answered responses get their log line from onResponse; this is the one line of an unanswered request.
    if (!response.writableFinished) logUnanswered(request, reply)
  })
}

function logUnanswered(request: FastifyRequest, reply: FastifyReply): void {
  const { url, config } = request.routeOptions
  const entry = {
    method: request.method,
    route: url ?? UNMATCHED_ROUTE,
    path: pathOf(request.url),
    durationMs: Math.round(reply.elapsedTime * 100) / 100,
  }
  if (config.probe) request.log.debug(entry, 'connection closed before the response')
  else request.log.info(entry, 'connection closed before the response')
}

async function observability(app: FastifyInstance): Promise<void> {
  app.addHook('onRequest', (request, reply, done) => {
    enter(request, reply)
    done()
  })

  app.addHook('onResponse', (request, reply, done) => {
    // request.routeOptions builds a new object on every read: read it once.
    const { url, config } = request.routeOptions
    const route = url ?? UNMATCHED_ROUTE
    const labels = { method: request.method, route, status_code: reply.statusCode }
    const seconds = reply.elapsedTime / 1000
    httpRequestDuration.observe(labels, seconds)
    httpRequestsTotal.inc(labels)
    const entry = {
      method: request.method,
      route,
      path: pathOf(request.url),
      statusCode: reply.statusCode,
      durationMs: Math.round(reply.elapsedTime * 100) / 100,
    }
    if (config.probe) request.log.debug(entry, 'request completed')
    else request.log.info(entry, 'request completed')
    done()
  })
}

export default fp(observability, { name: 'observability' })
