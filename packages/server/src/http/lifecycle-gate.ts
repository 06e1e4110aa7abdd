// Requests meet the process's lifecycle here. Until start-up has finished (migrations applied, dependencies
// connected), only probes are answered; every other request gets a 503 problem with Retry-After. Once
// shutdown has begun, every response closes its connection, so keep-alive clients move to another replica
// and the drain is not held up by idle sockets.
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { problemBody } from '../platform/problems.js'
import { sendProblem } from './problems.js'

async function lifecycleGate(app: FastifyInstance): Promise<void> {
  const { lifecycle } = app.platform
  app.addHook('onRequest', (request, reply, done) => {
    if (lifecycle.phase !== 'starting' || request.routeOptions.config.probe) return done()
    reply.header('retry-after', '1')
    sendProblem(reply, 503, problemBody('service-unavailable', 'The service is still starting'))
  })
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (lifecycle.phase === 'stopping') reply.header('connection', 'close')
    done(null, payload)
  })
}

export default fp(lifecycleGate, { name: 'lifecycle-gate', dependencies: ['problems'] })
