// Health endpoints with Kubernetes semantics: liveness never touches a dependency, start-up gates deploys,
// readiness checks each dependency under its own timeout, and a summary for humans.
import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox'
import { sendProblem } from '../../http/problems.js'
import { buildInfo } from '../../platform/build-info.js'
import { dependencyChecks, runChecks, shownResults } from '../../platform/health.js'
import { problemBody } from '../../platform/problems.js'

const CheckResult = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('failed'), Type.Literal('degraded')]),
  latencyMs: Type.Number(),
  error: Type.Optional(Type.String()),
})

const Ready = Type.Object({
  status: Type.Literal('ready'),
  checks: Type.Record(Type.String(), CheckResult),
})

const probe = { probe: true } as const

const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { config, database, redis, lifecycle } = app.platform
  const checks = dependencyChecks(database, redis)

  app.get(
    '/livez',
    {
      config: probe,
      schema: {
        tags: ['health'],
        summary: 'Liveness: the process is running',
        response: { 200: Type.Object({ status: Type.Literal('alive') }) },
      },
    },
    async () => ({ status: 'alive' as const }),
  )

  app.get(
    '/startupz',
    {
      config: probe,
      schema: {
        tags: ['health'],
        summary: 'Start-up: 200 once migrations are applied and dependencies connected',
        response: { 200: Type.Object({ status: Type.Literal('started') }) },
      },
    },
    async (_request, reply) => {
      if (lifecycle.phase === 'starting') {
        return sendProblem(
          reply,
          503,
          problemBody('service-unavailable', `Starting: ${lifecycle.waitingFor}`),
        )
      }
      return { status: 'started' as const }
    },
  )

  for (const url of ['/readyz', '/health/ready']) {
    app.get(
      url,
      {
        config: probe,
        schema: {
          tags: ['health'],
          summary: 'Readiness: every dependency answers within READINESS_TIMEOUT_MS',
          response: { 200: Ready },
        },
      },
      async (request, reply) => {
        if (lifecycle.phase !== 'started') {
          const detail =
            lifecycle.phase === 'starting' ? 'The service is still starting' : 'The service is shutting down'
          return sendProblem(
            reply,
            503,
            problemBody('service-unavailable', detail, undefined, { phase: lifecycle.phase }),
          )
        }
        const results = await runChecks(checks, config.readinessTimeoutMs)
        const failed = Object.keys(results).filter((name) => results[name]?.status === 'failed')
        for (const [name, result] of Object.entries(results)) {
          if (result.status === 'degraded')
            request.log.warn({ check: name, err: result.cause }, 'dependency degraded')
        }
        const shown = shownResults(results)
        // A probe that began while ready reports what it found, even if shutdown began meanwhile.
        if (failed.length === 0) return { status: 'ready' as const, checks: shown }
        for (const name of failed) {
          request.log.warn({ check: name, err: results[name]?.cause }, 'readiness check failed')
        }
        const detail = `Failed: ${failed.join(', ')}`
        return sendProblem(
          reply,
          503,
          problemBody('service-unavailable', detail, undefined, { failed, checks: shown }),
        )
      },
    )
  }

  app.get(
    '/healthz',
    {
      config: probe,
      schema: {
        tags: ['health'],
        summary: 'Summary: version, uptime and the mode the service runs in',
        response: {
          200: Type.Object({
            status: Type.String(),
            version: Type.String(),
            commit: Type.String(),
            uptimeSeconds: Type.Number(),
            mode: Type.Object({
              database: Type.Union([Type.Literal('embedded'), Type.Literal('postgres')]),
              redis: Type.Union([Type.Literal('redis'), Type.Literal('in-process')]),
            }),
          }),
        },
      },
    },
    async () => ({
      status: lifecycle.phase,
      version: buildInfo.version,
      commit: buildInfo.commit,
      uptimeSeconds: Math.round(process.uptime()),
      mode: { database: database.mode, redis: redis ? ('redis' as const) : ('in-process' as const) },
    }),
  )
}

export default healthRoutes
