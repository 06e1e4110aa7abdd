// buildApp: the whole HTTP application as one Fastify instance. Production (main.ts) and the tests build the
// very same app; they differ only in the Platform they hand in.
import { randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  LogController,
  type RawServerDefault,
} from 'fastify'
import auth from './http/auth.js'
import idempotency from './http/idempotency.js'
import jsonBody from './http/json-body.js'
import lifecycleGate from './http/lifecycle-gate.js'
import observability from './http/observability.js'
import openapi from './http/openapi.js'
import problems, { answerClientError, answerFrameworkError } from './http/problems.js'
import parameterGuard, { ROUTER_MAX_PARAM_LENGTH, validatorCompiler } from './http/validation.js'
import apiKeysModule from './modules/api-keys/plugin.js'
import apiKeyRoutes from './modules/api-keys/routes.js'
import catalogModule from './modules/catalog/plugin.js'
import catalogReadRoutes from './modules/catalog/read-routes.js'
import catalogWriteRoutes from './modules/catalog/write-routes.js'
import connectorsModule from './modules/connectors/plugin.js'
import connectorRoutes from './modules/connectors/routes.js'
import dashboardModule from './modules/dashboard/plugin.js'
import dashboardRoutes from './modules/dashboard/routes.js'
import dashboardStatic from './modules/dashboard/static.js'
import deviceConfigModule from './modules/device-config/plugin.js'
import deviceConfigRoutes from './modules/device-config/routes.js'
import docsPages from './modules/docs/pages.js'
import docsRoutes from './modules/docs/routes.js'
import changeFeedModule from './modules/events/plugin.js'
import eventsRoutes from './modules/events/routes.js'
import metricsRoute from './modules/health/metrics-route.js'
import healthRoutes from './modules/health/routes.js'
import ingestModule from './modules/ingest/plugin.js'
import ingestRoutes from './modules/ingest/routes.js'
import inventoryModule from './modules/inventory/plugin.js'
import inventoryRoutes from './modules/inventory/routes.js'
import ordersModule from './modules/orders/plugin.js'
import ordersRoutes from './modules/orders/routes.js'
import sourcesModule from './modules/sources/plugin.js'
import sourceRoutes from './modules/sources/routes.js'
import tenantsModule from './modules/tenants/plugin.js'
import tenantRoutes from './modules/tenants/routes.js'
import webhooksAdminRoutes from './modules/webhooks/admin-routes.js'
import webhooksModule from './modules/webhooks/plugin.js'
import webhooksRoutes from './modules/webhooks/routes.js'
import type { Platform } from './platform/platform.js'
import { RateLimits } from './platform/rate-limits.js'

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
    trustProxy: platform.config.trustProxy,
    // The HTTP parser's and the router's refusals are problem documents too; long parameters are the
    // parameter guard's to refuse.
    clientErrorHandler: answerClientError,
    frameworkErrors: answerFrameworkError,
    routerOptions: { maxParamLength: ROUTER_MAX_PARAM_LENGTH },
  }).withTypeProvider<TypeBoxTypeProvider>()

  app.setValidatorCompiler(validatorCompiler)
  app.decorate('platform', platform)
  app.addHook('onSend', (request, reply, payload, done) => {
    reply.header('x-request-id', request.id)
    done(null, payload)
  })

  await app.register(openapi)
  await app.register(problems)
  await app.register(observability)
  await app.register(lifecycleGate)

  await app.register(jsonBody)
  await app.register(idempotency)

  // The feature modules' services, each a plugin that decorates the app with its own service.
  const modules = [
    tenantsModule,
    apiKeysModule,
    sourcesModule,
    deviceConfigModule,
    ingestModule,
    catalogModule,
    inventoryModule,
    ordersModule,
    changeFeedModule,
    webhooksModule,
    connectorsModule,
    dashboardModule,
  ]
  for (const module of modules) await app.register(module)

  // Request-level plugins that need those services, through interfaces defined in http/.
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
  await app.register(auth, { apiKeys: app.apiKeys, adminSessions: app.adminSessions, rateLimits })
  await app.register(parameterGuard)

  // Routes last, so every hook above applies to them.
  const routes = [
    healthRoutes,
    metricsRoute,
    docsRoutes,
    docsPages,
    tenantRoutes,
    apiKeyRoutes,
    sourceRoutes,
    deviceConfigRoutes,
    ingestRoutes,
    catalogReadRoutes,
    catalogWriteRoutes,
    inventoryRoutes,
    ordersRoutes,
    eventsRoutes,
    webhooksRoutes,
    webhooksAdminRoutes,
    connectorRoutes,
    dashboardRoutes,
    dashboardStatic,
  ]
  for (const plugin of routes) await app.register(plugin)
  return app
}
