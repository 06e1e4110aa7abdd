// Serves the built web console (packages/dashboard, `npm run build`) at /dashboard/. Files under assets/ carry
// a hash of their content in their name, so browsers may keep them for a year; index.html is revalidated on
// every load, so a new build is picked up at once. Any other path under /dashboard/ is one of the console's
// own pages (client-side routes): it gets index.html. A checkout where the console was not built answers a
// problem document that says how to build it.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import fastifyStatic from '@fastify/static'
import type { FastifyInstance } from 'fastify'
import { ProblemError } from '../../platform/problems.js'

/** packages/dashboard/dist, from src/modules/dashboard or dist/modules/dashboard alike. */
export const DEFAULT_DASHBOARD_DIR = fileURLToPath(new URL('../../../../dashboard/dist/', import.meta.url))

const HIDDEN = { hide: true } as const
const IMMUTABLE = 'public, max-age=31536000, immutable'
const REVALIDATE = 'no-cache'

async function dashboardStatic(app: FastifyInstance): Promise<void> {
  const root = app.platform.config.dashboardDir ?? DEFAULT_DASHBOARD_DIR
  const built = existsSync(join(root, 'index.html'))

  app.get('/dashboard', { schema: HIDDEN }, async (_request, reply) => reply.redirect('/dashboard/', 308))

  if (!built) {
    app.log.info({ root }, 'the dashboard is not built: /dashboard answers how to build it')
    const notBuilt = async () => {
      throw new ProblemError(
        'not-found',
        'The dashboard is not built: run `npm run build` at the root of the repository, then restart',
      )
    }
    app.get('/dashboard/', { schema: HIDDEN }, notBuilt)
    app.get('/dashboard/*', { schema: HIDDEN }, notBuilt)
    return
  }

  await app.register(
    async (scope) => {
      await scope.register(fastifyStatic, {
        root,
        prefix: '/',
        schemaHide: true,
        cacheControl: false,
        setHeaders: (response, path) => {
          response.setHeader('cache-control', path.includes('/assets/') ? IMMUTABLE : REVALIDATE)
        },
      })
      scope.setNotFoundHandler(async (request, reply) => {
        const path = request.url.split('?')[0] ?? ''
        if (request.method !== 'GET' && request.method !== 'HEAD')
          throw new ProblemError('method-not-allowed', `${request.method} is not allowed on the dashboard`)
        if (path.startsWith('/dashboard/assets/')) throw new ProblemError('not-found', 'No such asset')
        reply.header('cache-control', REVALIDATE)
        return reply.sendFile('index.html')
      })
    },
    { prefix: '/dashboard' },
  )
}

export default dashboardStatic
