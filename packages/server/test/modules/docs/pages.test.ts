// The home page and the API reference page: what they link, the build they name, and that the reference
// loads nothing from any host but the service itself (no CDN, no font host, no validator badge).
import { existsSync } from 'node:fs'
import { chromium } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildInfo } from '../../../src/platform/build-info.js'
import { startTestApp, type TestApp } from '../../helpers/app.js'

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const FOOTER = `version ${buildInfo.version} · commit ${buildInfo.commit}`

let t: TestApp
beforeAll(async () => {
  t = await startTestApp()
})
afterAll(() => t.close())

/** Every URL an HTML page or a style sheet refers to: src, href, and CSS url() and @import. */
function referencedUrls(text: string): string[] {
  const urls = [
    ...text.matchAll(/\b(?:src|href)\s*=\s*["']([^"']+)["']/g),
    ...text.matchAll(/url\(\s*["']?([^"')]+)["']?\s*\)/g),
    ...text.matchAll(/@import\s+["']([^"']+)["']/g),
  ].map((match) => match[1] as string)
  return urls.filter((url) => !url.startsWith('data:') && !url.startsWith('#'))
}

describe('GET /', () => {
  it('says what the service is and links its reference, document, dashboard and health', async () => {
    const res = await t.app.inject({ url: '/', headers: { accept: 'text/html,*/*;q=0.8' } })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8')
    for (const href of ['/docs', '/openapi.json', '/dashboard', '/healthz'])
      expect(res.body).toContain(`href="${href}"`)
    expect(res.body).toContain('POS Integration Service')
    expect(res.body).toContain(FOOTER)
    // Public and never limited, like the other documentation routes.
    expect(res.headers['x-ratelimit-limit']).toBeUndefined()
  })

  it('answers JSON to a client that prefers it', async () => {
    const res = await t.app.inject({ url: '/', headers: { accept: 'application/json' } })
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8')
    expect(res.headers.vary).toBe('accept')
    expect(res.json()).toMatchObject({
      name: 'POS Integration Service',
      version: buildInfo.version,
      commit: buildInfo.commit,
      links: { docs: '/docs', openapi: '/openapi.json', dashboard: '/dashboard', health: '/healthz' },
    })
    const either = await t.app.inject({ url: '/', headers: { accept: 'text/html;q=0.5, application/json' } })
    expect(either.headers['content-type']).toMatch(/^application\/json/)
    const browser = await t.app.inject({ url: '/', headers: { accept: '*/*' } })
    expect(browser.headers['content-type']).toMatch(/^text\/html/)
  })
})

describe('GET /docs', () => {
  it('renders the OpenAPI document with assets served by the service itself, and names the build', async () => {
    const page = await t.app.inject('/docs')
    expect(page.statusCode).toBe(200)
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8')
    expect(page.body).toContain(FOOTER)
    expect(page.headers['x-ratelimit-limit']).toBeUndefined()

    const seen = new Set<string>()
    const pending = referencedUrls(page.body).map((url) => new URL(url, 'http://service.test/docs'))
    expect(pending.length).toBeGreaterThan(4)
    while (pending.length > 0) {
      const url = pending.pop()!
      expect(url.origin, `${url} is another host`).toBe('http://service.test')
      if (seen.has(url.pathname)) continue
      seen.add(url.pathname)
      const asset = await t.app.inject(url.pathname)
      expect(asset.statusCode, url.pathname).toBe(200)
      expect(asset.headers['x-ratelimit-limit'], url.pathname).toBeUndefined()
      if (String(asset.headers['content-type']).startsWith('text/css'))
        pending.push(...referencedUrls(asset.body).map((ref) => new URL(ref, url)))
    }
    const initializer = await t.app.inject('/docs/static/swagger-initializer.js')
    // The validator badge would ask validator.swagger.io about the document on every view.
    expect(initializer.body).toContain('"validatorUrl":null')
    expect(initializer.body).not.toMatch(/validatorUrl:\s*"http/)
  })

  it.skipIf(!existsSync(CHROMIUM) && process.env.CI_REQUIRE_TOOLS !== '1')(
    'loads in Chromium with every request going to the service itself',
    async () => {
      const address = await t.app.listen({ host: '127.0.0.1', port: 0 })
      const origin = new URL(address).origin
      // Playwright gives the browser a fresh, empty profile of its own.
      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: [
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      })
      try {
        const page = await browser.newPage()
        const requests: string[] = []
        page.on('request', (request) => requests.push(request.url()))
        await page.goto(`${origin}/docs`)
        // Rendered from /docs/json: the document's title and the ingest operation are on the page.
        await page.getByText('POS Integration Service', { exact: false }).first().waitFor()
        await page.locator('#operations-ingest-post_v1_ingest__source_').waitFor({ timeout: 15_000 })
        await expect(page.locator('footer.build-info').textContent()).resolves.toContain(FOOTER)
        const foreign = requests.filter((url) => !url.startsWith(`${origin}/`) && !url.startsWith('data:'))
        expect(foreign).toEqual([])
        expect(requests).toContain(`${origin}/docs/json`)
      } finally {
        await browser.close()
      }
    },
    // Chromium's start and the page's first render are slow on a busy machine.
    60_000,
  )
})
