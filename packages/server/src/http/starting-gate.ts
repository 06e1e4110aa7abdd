// Until start-up has finished (migrations applied, dependencies connected), only probes are answered;
// every other request gets a 503 problem with Retry-After instead of touching a half-ready service.
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { problemBody } from '../platform/problems.js'
import { sendProblem } from './problems.js'

async function startingGate(app: FastifyInstance): Promise<void> {
  const { lifecycle } = app.platform
  app.addHook('onRequest', (request, reply, done) => {
    if (lifecycle.phase !== 'starting' || request.routeOptions.config.probe) return done()
    reply.header('retry-after', '1')
    sendProblem(reply, 503, problemBody('service-unavailable', 'The service is still starting'))
  })
}

export default fp(startingGate, { name: 'starting-gate', dependencies: ['problems'] })
