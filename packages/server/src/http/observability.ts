// Request metrics and the one log line per request. The in-flight gauge moves synchronously in the request
// hooks, so it is exact; routes are labelled by their pattern, never by the raw URL.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { pathOf } from '../platform/logger.js'
import { httpRequestDuration, httpRequestsInFlight, httpRequestsTotal } from '../platform/metrics.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Health and metrics routes: logged at debug, never authenticated or rate limited. */
    probe?: boolean
  }
  interface FastifyRequest {
    [kInFlight]: boolean
  }
}

const kInFlight = Symbol('inFlight')
const UNMATCHED_ROUTE = 'unmatched'

/** Requests received and not yet answered by this process, read by graceful shutdown. */
export function requestsInFlight(): number {
  return inFlight
}
let inFlight = 0

function leave(request: FastifyRequest): void {
  if (!request[kInFlight]) return
  request[kInFlight] = false
  inFlight--
  httpRequestsInFlight.dec()
}

async function observability(app: FastifyInstance): Promise<void> {
  app.decorateRequest(kInFlight, false)

  app.addHook('onRequest', (request, _reply, done) => {
    request[kInFlight] = true
    inFlight++
    httpRequestsInFlight.inc()
    done()
  })

  app.addHook('onRequestAbort', (request, done) => {
    leave(request)
    done()
  })

  app.addHook('onResponse', (request, reply, done) => {
    leave(request)
    const route = request.routeOptions.url ?? UNMATCHED_ROUTE
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
    if (request.routeOptions.config.probe) request.log.debug(entry, 'request completed')
    else request.log.info(entry, 'request completed')
    done()
  })
}

export default fp(observability, { name: 'observability' })
