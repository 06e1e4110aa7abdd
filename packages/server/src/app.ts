// buildApp: the whole HTTP application as one Fastify instance. Production (main.ts) and the tests build the
// very same app; they differ only in the Platform they hand in.
import { randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import swagger from '@fastify/swagger'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  LogController,
  type RawServerDefault,
} from 'fastify'
import auth from './http/auth.js'
import lifecycleGate from './http/lifecycle-gate.js'
import observability from './http/observability.js'
import problems, { answerClientError } from './http/problems.js'
import { RateLimits } from './http/rate-limit.js'
import { validatorCompiler } from './http/validation.js'
import catalogReadRoutes from './modules/catalog/read-routes.js'
import catalogWriteRoutes from './modules/catalog/write-routes.js'
import docsRoutes from './modules/docs/routes.js'
import eventsRoutes from './modules/events/routes.js'
import metricsRoute from './modules/health/metrics-route.js'
import healthRoutes from './modules/health/routes.js'
import idempotencyReaper from './modules/ingest/reaper.js'
import ingestRoutes from './modules/ingest/routes.js'
import { IngestService } from './modules/ingest/service.js'
import inventoryRoutes from './modules/inventory/routes.js'
import ordersRoutes from './modules/orders/routes.js'
import adminRoutes from './modules/tenants/routes.js'
import { TenantsService } from './modules/tenants/service.js'
import { buildInfo } from './platform/build-info.js'
import type { Platform } from './platform/platform.js'

export type App = FastifyInstance<
  RawServerDefault,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>

export async function buildApp(platform: Platform): Promise<App> {
  const app = Fastify({
    loggerInstance: platform.log as FastifyBaseLogger,
    // observability.ts writes the one log line per request, by path and without the query string.
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    bodyLimit: platform.config.bodyLimitBytes,
    // A client slower than this to send its request is cut off, so it cannot hold a connection (nor the
    // drain at shutdown) forever. Node looks for such requests every connectionsCheckingInterval, and when
    // headersTimeout (60 s by default) exceeds requestTimeout it swaps the two, so both are set here.
    requestTimeout: platform.config.requestTimeoutMs,
    http: {
      headersTimeout: Math.min(60_000, platform.config.requestTimeoutMs),
      connectionsCheckingInterval: Math.min(30_000, Math.ceil(platform.config.requestTimeoutMs / 4)),
    },
    // Requests that arrive while the listener closes get our own problem document (http/lifecycle-gate.ts).
    return503OnClosing: false,
    clientErrorHandler: answerClientError,
    trustProxy: platform.config.trustProxy,
  }).withTypeProvider<TypeBoxTypeProvider>()

  app.setValidatorCompiler(validatorCompiler)
  app.decorate('platform', platform)
  app.addHook('onSend', (request, reply, payload, done) => {
    reply.header('x-request-id', request.id)
    done(null, payload)
  })

  // The OpenAPI document says which credential each route takes, from the same route config auth enforces.
  app.addHook('onRoute', (route) => {
    const security = route.config?.admin
      ? [{ adminToken: [] }]
      : route.config?.scope
        ? [{ apiKey: [] }]
        : undefined
    if (security && route.schema) route.schema = { ...route.schema, security }
  })
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      components: {
        securitySchemes: {
          apiKey: {
            type: 'http',
            scheme: 'bearer',
            description: "A tenant's API key (pos_…), with the route's scope",
          },
          adminToken: { type: 'http', scheme: 'bearer', description: 'The ADMIN_TOKEN of the deployment' },
        },
      },
      info: {
        title: 'POS Integration Service',
        version: buildInfo.version,
        description: 'Ingests POS sales, refunds, stock and catalog changes exactly once per tenant.',
      },
    },
  })
  await app.register(problems)
  await app.register(observability)
  await app.register(lifecycleGate)

  // Application services, shared by the feature modules.
  app.decorate('tenants', new TenantsService(platform.database.db))
  app.decorate(
    'ingest',
    new IngestService(platform.database, platform.log, {
      // PGlite has one connection; PostgreSQL overlaps a few group commits.
      concurrency: platform.database.mode === 'embedded' ? 1 : platform.config.ingestWriteConcurrency,
    }),
  )
  const rateLimits = new RateLimits({
    redis: platform.redis?.client,
    keyPrefix: platform.config.redisKeyPrefix,
    log: platform.log,
    redisTimeoutMs: platform.config.rateLimitRedisTimeoutMs,
  })
  if (rateLimits.backend === 'in-process') {
    platform.log.info(
      'rate limits are counted per process (no REDIS_URL): each replica applies them on its own',
    )
  }
  app.decorate('rateLimits', rateLimits)
  await app.register(auth)

  await app.register(healthRoutes)
  await app.register(metricsRoute)
  await app.register(docsRoutes)
  await app.register(adminRoutes)
  await app.register(ingestRoutes)
  await app.register(idempotencyReaper)
  await app.register(catalogReadRoutes)
  await app.register(catalogWriteRoutes)
  await app.register(inventoryRoutes)
  await app.register(ordersRoutes)
  await app.register(eventsRoutes)
  return app
}
