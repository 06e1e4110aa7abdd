// Requests meet the process's lifecycle here. Until start-up has finished (migrations applied, dependencies
// reached), only probes are answered; every other request gets a 503 problem with Retry-After. Once shutdown
// has begun, every response closes its connection, so keep-alive clients move to another replica and the
// drain is not held up by idle sockets.
//
// During the shutdown readiness delay the service still serves normally: load balancers are still moving
// traffic away. Only once the listener is closing (app.close() has begun) is a new request refused, with our
// own 503 problem rather than Fastify's built-in one (return503OnClosing is off in app.ts). Such requests come
// on connections that were busy when the listener closed, e.g. a client halfway through its headers.
//
// The gate runs before authentication, so a refused request neither consumes a rate limit nor carries the
// RateLimit headers: it was not served, and counting it would cost a credential lookup and a Redis round trip
// against the very dependencies a starting or draining process cannot rely on. Retry-After tells the client
// when to come back instead.
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { problemBody } from '../platform/problems.js'
import { sendProblem } from './problems.js'

async function lifecycleGate(app: FastifyInstance): Promise<void> {
  const { lifecycle } = app.platform
  let closing = false
  app.addHook('preClose', (done) => {
    closing = true
    done()
  })
  app.addHook('onRequest', (request, reply, done) => {
    const { phase } = lifecycle
    // The route's config is read only in a phase that refuses requests: routeOptions builds a new object on
    // every read, and this hook runs for every request.
    if (phase === 'started' || (phase === 'stopping' && !closing)) return done()
    if (request.routeOptions.config.probe) return done()
    if (phase === 'starting') {
      reply.header('retry-after', '1')
      return sendProblem(reply, 503, problemBody('service-unavailable', 'The service is still starting'))
    }
    if (phase === 'stopping' && closing) {
      reply.header('retry-after', '1').header('connection', 'close')
      return sendProblem(reply, 503, problemBody('service-unavailable', 'The service is shutting down'))
    }
    done()
  })
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (lifecycle.phase === 'stopping') reply.header('connection', 'close')
    done(null, payload)
  })
}

export default fp(lifecycleGate, { name: 'lifecycle-gate', dependencies: ['problems'] })
