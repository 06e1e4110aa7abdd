// The human side of the API's documentation: the service's home page at `/` (what the service is, and where
// its reference, console and health are) and the API reference at `/docs`, Swagger UI rendering
// /openapi.json. Everything the reference page loads is served by this service from the swagger-ui-dist
// files in node_modules: no CDN, no font host, and no validator badge (validatorUrl null), so it works behind
// a firewall and leaks nothing about who reads it. Both pages are probes in the auth sense: public, never
// rate limited, like /openapi.json. Each shows, in its footer, the version and commit build_info reports.
import swaggerUi from '@fastify/swagger-ui'
import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { buildInfo } from '../../platform/build-info.js'

export const SERVICE_NAME = 'POS Integration Service'
const SERVICE_DESCRIPTION =
  'Takes every sale, refund, stock movement and catalog change from POS systems, stores each exactly once per tenant, and serves one consistent view back.'

/** Where a reader goes from the home page, in the order the page lists them. */
const LINKS = {
  docs: { href: '/docs', text: 'API reference' },
  openapi: { href: '/openapi.json', text: 'OpenAPI document (JSON)' },
  dashboard: { href: '/dashboard', text: 'Dashboard' },
  health: { href: '/healthz', text: 'Health summary' },
} as const

const ServiceIndex = Type.Object(
  {
    name: Type.String(),
    description: Type.String(),
    version: Type.String({ description: 'The version build_info reports' }),
    commit: Type.String({ description: 'The git commit build_info reports' }),
    links: Type.Object({
      docs: Type.String(),
      openapi: Type.String(),
      dashboard: Type.String(),
      health: Type.String(),
    }),
  },
  { title: 'ServiceIndex' },
)

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

/** The footer both pages end with; `docs:check` reads the version from it. */
export const BUILD_FOOTER = `<footer class="build-info">${escapeHtml(SERVICE_NAME)} version ${escapeHtml(
  buildInfo.version,
)} · commit ${escapeHtml(buildInfo.commit)}</footer>`

const FOOTER_CSS = `footer.build-info{font:13px/1.5 sans-serif;color:#555;text-align:center;padding:16px;border-top:1px solid #ddd;margin-top:24px}`

const homePage = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(SERVICE_NAME)}</title>
<style>body{font:16px/1.5 sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem;color:#222}a{color:#0b5cad}${FOOTER_CSS}</style>
</head>
<body>
<h1>${escapeHtml(SERVICE_NAME)}</h1>
<p>${escapeHtml(SERVICE_DESCRIPTION)}</p>
<ul>
${Object.values(LINKS)
  .map((link) => `<li><a href="${link.href}">${escapeHtml(link.text)}</a> <code>${link.href}</code></li>`)
  .join('\n')}
</ul>
${BUILD_FOOTER}
</body>
</html>
`

const serviceIndex = {
  name: SERVICE_NAME,
  description: SERVICE_DESCRIPTION,
  version: buildInfo.version,
  commit: buildInfo.commit,
  links: {
    docs: LINKS.docs.href,
    openapi: LINKS.openapi.href,
    dashboard: LINKS.dashboard.href,
    health: LINKS.health.href,
  },
}

/** The quality a request's Accept header gives a media type (exact, type/*, or *\/*), 0 when it refuses it. */
function quality(accept: string, mediaType: string): number {
  const [type] = mediaType.split('/')
  let best = -1
  let bestSpecificity = -1
  for (const part of accept.split(',')) {
    const [range = '', ...params] = part.trim().toLowerCase().split(';')
    const specificity = range === mediaType ? 2 : range === `${type}/*` ? 1 : range === '*/*' ? 0 : -1
    if (specificity <= bestSpecificity) continue
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='))
    bestSpecificity = specificity
    best = q === undefined ? 1 : Number(q.slice(2)) || 0
  }
  return Math.max(best, 0)
}

/** JSON for a client that prefers it to HTML (an absent Accept header is a browser's `*\/*`: HTML). */
function wantsJson(request: FastifyRequest): boolean {
  const accept = request.headers.accept
  if (accept === undefined) return false
  return quality(accept, 'application/json') > quality(accept, 'text/html')
}

const docsPages: FastifyPluginAsyncTypebox = async (app) => {
  // Every route of this plugin, the reference's static files included, is public and never rate limited.
  app.addHook('onRoute', (route) => {
    route.config = { ...route.config, probe: true }
  })

  app.get(
    '/',
    {
      schema: {
        tags: ['docs'],
        summary: 'What this service is, with links to its reference, dashboard and health',
        description: 'HTML, or JSON for a client whose Accept header prefers application/json.',
        response: {
          200: {
            description: 'The home page',
            content: {
              'text/html': { schema: Type.String() },
              'application/json': { schema: ServiceIndex },
            },
          },
        },
      },
    },
    async (request, reply) => {
      reply.header('vary', 'accept')
      if (wantsJson(request)) return reply.type('application/json').send(serviceIndex)
      return reply.type('text/html; charset=utf-8').send(homePage)
    },
  )

  await app.register(swaggerUi, {
    routePrefix: '/docs',
    // Never the public validator badge (a request to another host per page view), whatever the default is.
    validatorUrl: false,
    uiConfig: { validatorUrl: null, deepLinking: true, docExpansion: 'list' },
    theme: {
      title: `${SERVICE_NAME}: API reference`,
      css: [{ filename: 'build-info.css', content: FOOTER_CSS }],
    },
  })

  // The reference page's HTML is the plugin's own: its footer goes in before </body>.
  app.addHook('onSend', async (request, reply, payload) => {
    const url = request.routeOptions.url
    if ((url !== '/docs' && url !== '/docs/') || typeof payload !== 'string') return payload
    if (!String(reply.getHeader('content-type') ?? '').startsWith('text/html')) return payload
    return payload.replace('</body>', `${BUILD_FOOTER}\n</body>`)
  })
}

export default docsPages
