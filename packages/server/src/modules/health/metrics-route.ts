// GET /metrics: the process registry in the Prometheus text format.
import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox'
import { registry } from '../../platform/metrics.js'

const metricsRoute: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/metrics',
    {
      config: { probe: true },
      schema: {
        tags: ['health'],
        summary: 'Prometheus metrics',
        response: {
          200: {
            description: 'The Prometheus text exposition format',
            content: { 'text/plain': { schema: Type.String() } },
          },
        },
      },
    },
    async (_request, reply) => {
      reply.type(registry.contentType)
      return registry.metrics()
    },
  )
}

export default metricsRoute
