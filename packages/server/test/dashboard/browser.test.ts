/// <reference lib="dom" />
// The web console in a real Chromium (Debian's, driven by playwright-core): sign in, create a tenant, a key and
// a Square source with its connector, post an event through the API, watch it arrive in the feed and the
// overview's counters move, revoke the key and see the API refuse it, sign out. Every view is screenshotted into artifacts/dashboard/ and scanned with
// axe-core (no serious or critical violations), at a desktop's width and again at a tablet's (768x1024),
// where no page may scroll sideways. Without Chromium on PATH the file is skipped (its title says why), and
// with CI_REQUIRE_TOOLS set it fails.
import { execFileSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type Browser, chromium, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEFAULT_DASHBOARD_DIR } from '../../src/modules/dashboard/static.js'
import { ADMIN_TOKEN, startTestApp, type TestApp } from '../helpers/app.js'
import { orderEvent, productUpserted } from '../helpers/ingest.js'
import { findTool, needingTool } from '../helpers/tools.js'

const CHROMIUM = findTool('chromium', 'chromium')
const REPO = fileURLToPath(new URL('../../../../', import.meta.url))
const ARTIFACTS = join(REPO, 'artifacts', 'dashboard')
// As root and on a machine without network: no sandbox, no GPU, and none of Chromium's own calls home.
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')

interface AxeViolation {
  id: string
  impact: string | null
  help: string
  nodes: { target: unknown }[]
}

/** Serious and critical accessibility violations on the page as it is now. */
async function accessibilityViolations(page: Page): Promise<AxeViolation[]> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ content: axeSource })
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(): Promise<{ violations: AxeViolation[] }> } }).axe
    return (await axe.run()).violations
  })
  return violations
    .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
    .map(({ id, impact, help, nodes }) => ({
      id,
      impact,
      help,
      nodes: nodes.map(({ target }) => ({ target })),
    }))
}

/** Screenshot, accessibility scan and, on a narrow screen, no sideways scrolling. */
async function checkView(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true })
  expect(await accessibilityViolations(page), `accessibility of ${name}`).toEqual([])
  const overflow = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
  }))
  expect(overflow.scrollWidth, `horizontal overflow of ${name}`).toBeLessThanOrEqual(overflow.innerWidth)
}

async function signIn(page: Page, url: string): Promise<void> {
  await page.goto(`${url}/dashboard/`)
  await page.getByLabel('Admin token').fill(ADMIN_TOKEN)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByRole('heading', { name: 'Overview' }).waitFor()
}

interface ListedSource {
  id: string
  name: string
  kind: string
  connector: { settings: Record<string, string>; secretsSet: string[] } | null
}

async function listSources(url: string, tenantId: string): Promise<ListedSource[]> {
  const response = await fetch(`${url}/v1/admin/tenants/${tenantId}/sources`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  })
  return ((await response.json()) as { data: ListedSource[] }).data
}

/**
 * On a tenant's Sources tab: creates a Square source with its connector through the form, sees it listed with
 * its settings and without its secrets, and sets its notification URL to the webhook URL the page shows.
 */
async function createSquareSource(page: Page, url: string): Promise<void> {
  const secrets = {
    signatureKey: 'square-signature-key-from-the-ui',
    accessToken: 'square-token-from-the-ui',
  }
  const form = page.getByRole('form', { name: 'New source' })
  await form.getByLabel('Kind').selectOption('square')
  await form.getByLabel("New source's name").fill('square-shop')
  await form.getByLabel('Signature key').fill(secrets.signatureKey)
  await form.getByLabel('Notification URL').fill('https://pos.example.com/v1/webhooks/square/pending')
  await form.getByLabel('Access token').fill(secrets.accessToken)
  await form.getByLabel('API base URL (optional)').fill('https://connect.squareupsandbox.com')
  await form.getByRole('button', { name: 'Create source' }).click()
  const card = page
    .getByRole('article')
    .filter({ has: page.getByRole('heading', { name: 'square-shop (square)' }) })
  await card.getByText('Secrets set').waitFor()
  await expect.poll(() => card.locator('.settings dd').nth(1).textContent()).toBe('accessToken, signatureKey')
  const settings = card.getByRole('form', { name: 'Connector settings' })
  expect(await settings.getByLabel('API base URL').inputValue()).toBe('https://connect.squareupsandbox.com')
  // The secrets went to the service and nowhere on the page: not in the new source's form, not in the listing.
  expect(await form.getByLabel('Signature key').inputValue()).toBe('')
  const html = await page.content()
  for (const secret of Object.values(secrets)) expect(html).not.toContain(secret)

  const tenantId = /tenants\/([0-9a-f-]{36})/.exec(page.url())?.[1] ?? ''
  const listed = (await listSources(url, tenantId)).find((source) => source.name === 'square-shop')
  expect(listed?.kind).toBe('square')
  expect(listed?.connector?.settings).toEqual({
    notificationUrl: 'https://pos.example.com/v1/webhooks/square/pending',
    baseUrl: 'https://connect.squareupsandbox.com',
  })
  const webhookUrl = `${url}/v1/webhooks/square/${listed?.id}`
  expect(await card.locator('.settings code').textContent()).toBe(webhookUrl)

  // Square signs the notification URL: set it to where Square will send, as the page shows it.
  await settings.getByRole('button', { name: 'Use the webhook URL' }).click()
  await settings.getByRole('button', { name: 'Save connector' }).click()
  await settings.getByText('Saved.').waitFor()
  const saved = (await listSources(url, tenantId)).find((source) => source.name === 'square-shop')
  expect(saved?.connector?.settings.notificationUrl).toBe(webhookUrl)
  expect(saved?.connector?.secretsSet).toEqual(['accessToken', 'signatureKey'])
}

async function figure(page: Page, id: string): Promise<string> {
  return (await page.locator(`[data-figure="${id}"] dd`).textContent()) ?? ''
}

describe.skipIf(CHROMIUM === undefined)(
  needingTool('the dashboard in Chromium', CHROMIUM, 'chromium', 'chromium'),
  () => {
    let t: TestApp
    let url: string
    let browser: Browser

    beforeAll(async () => {
      if (!existsSync(join(DEFAULT_DASHBOARD_DIR, 'index.html'))) {
        execFileSync('npm', ['run', 'build', '-w', '@pos/dashboard'], { cwd: REPO, stdio: 'inherit' })
      }
      mkdirSync(ARTIFACTS, { recursive: true })
      t = await startTestApp({ redis: true, env: { RECONCILE_INTERVAL_MINUTES: '0' } })
      url = await t.app.listen({ host: '127.0.0.1', port: 0 })
      browser = await chromium.launch({ executablePath: CHROMIUM!, args: CHROMIUM_ARGS, headless: true })
    }, 120_000)
    afterAll(async () => {
      await browser?.close()
      await t?.close()
    })

    const post = (path: string, key: string, body: unknown) =>
      fetch(`${url}${path}`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${key}`,
          'content-type': 'application/json',
          'idempotency-key': randomUUID(),
        },
        body: JSON.stringify(body),
      })

    it('signs in, creates a tenant, a key, a source and a Square source, shows an event posted through the API, and revokes the key', async () => {
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
      await context.grantPermissions(['clipboard-read', 'clipboard-write'])
      const page = await context.newPage()
      const pageErrors: string[] = []
      page.on('pageerror', (err) => pageErrors.push(err.message))

      await page.goto(`${url}/dashboard/`)
      await page.getByLabel('Admin token').waitFor()
      await checkView(page, 'desktop-sign-in')
      await page.getByLabel('Admin token').fill('not-the-admin-token')
      await page.getByRole('button', { name: 'Sign in' }).click()
      await expect.poll(() => page.getByRole('alert').textContent()).toContain('not valid')
      await signIn(page, url)
      // The token is nowhere the page's scripts can reach; the session cookie is HttpOnly.
      expect(await page.evaluate(() => JSON.stringify({ ...localStorage, ...sessionStorage }))).not.toContain(
        ADMIN_TOKEN,
      )
      expect(await page.evaluate(() => document.cookie)).toBe('')
      await page.locator('[data-figure="events-total"]').waitFor()
      const eventsBefore = Number(await figure(page, 'events-total'))
      await checkView(page, 'desktop-overview')

      await page.getByRole('link', { name: 'Tenants' }).click()
      const tenantName = `Browser tenant ${randomUUID().slice(0, 8)}`
      await page.getByLabel("New tenant's name").fill(tenantName)
      await page.getByRole('button', { name: 'Create tenant' }).click()
      await page.getByRole('link', { name: tenantName }).waitFor()
      await checkView(page, 'desktop-tenants')

      await page.getByRole('link', { name: tenantName }).click()
      await page.getByRole('heading', { name: tenantName }).waitFor()
      await page.getByLabel("New key's name").fill('browser key')
      await page.getByRole('button', { name: 'Create key' }).click()
      const key = (await page.locator('[data-created-key]').textContent()) ?? ''
      expect(key).toMatch(/^pos_/)
      await page.getByRole('button', { name: 'Copy key' }).click()
      await page.getByRole('button', { name: 'Copied' }).waitFor()
      expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(key)
      await checkView(page, 'desktop-keys')

      await page.getByRole('link', { name: 'Sources' }).click()
      await page.getByLabel("New source's name").fill('till')
      await page.getByRole('button', { name: 'Create source' }).click()
      await page.getByRole('heading', { name: /till/ }).waitFor()
      await createSquareSource(page, url)
      await checkView(page, 'desktop-sources')

      const sku = `SKU-${randomUUID().slice(0, 8)}`
      const product = productUpserted(sku)
      const order = orderEvent('order.created', `ORD-${sku}`, {
        lineItems: [{ sku, quantity: 2, unitPrice: { amount: 350, currency: 'EUR' } }],
        total: 700,
      })
      const posted = await post('/v1/ingest/till', key, { events: [product, order] })
      expect(posted.status).toBe(201)

      await page.getByRole('link', { name: 'Event feed' }).click()
      const feed = page.getByRole('table', { name: 'Events, newest first' })
      await feed.locator('code', { hasText: product.id }).waitFor({ timeout: 20_000 })
      await feed.locator('code', { hasText: order.id }).waitFor()
      await checkView(page, 'desktop-feed')

      await page.getByRole('link', { name: 'Orders' }).click()
      await page.getByRole('button', { name: `ORD-${sku}` }).click()
      await page
        .getByRole('region', { name: `Order ORD-${sku}` })
        .getByRole('cell', { name: sku })
        .waitFor()
      await checkView(page, 'desktop-orders')

      await page.getByRole('link', { name: 'Products' }).click()
      await page.getByRole('cell', { name: sku, exact: true }).waitFor()
      await checkView(page, 'desktop-products')

      await page.getByRole('link', { name: 'Stock' }).click()
      await page.getByRole('table', { name: 'Stock by store and SKU' }).waitFor()
      await checkView(page, 'desktop-stock')

      await page.getByRole('link', { name: 'Overview' }).click()
      await expect
        .poll(async () => Number(await figure(page, 'events-total')), { timeout: 15_000 })
        .toBeGreaterThanOrEqual(eventsBefore + 2)

      await page.goto(`${url}/dashboard/tenants`)
      await page.getByRole('link', { name: tenantName }).click()
      await page.getByRole('button', { name: 'Revoke' }).click()
      await page.getByRole('button', { name: 'Yes, revoke' }).click()
      await page.getByText(/^revoked /).waitFor()
      const refused = await post('/v1/ingest/till', key, { events: [productUpserted(`${sku}-2`)] })
      expect(refused.status).toBe(401)

      await page.getByRole('button', { name: 'Sign out' }).click()
      await page.getByLabel('Admin token').waitFor()
      const afterSignOut = await page.evaluate(async () => (await fetch('/v1/admin/session')).status)
      expect(afterSignOut).toBe(401)
      expect(pageErrors).toEqual([])
      await context.close()
    }, 180_000)

    it("is usable at a tablet's width: every view fits 768 px without scrolling sideways", async () => {
      const create = await fetch(`${url}/v1/admin/tenants`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'Tablet tenant' }),
      })
      const tenant = (await create.json()) as { id: string }
      // A Square source, so the Sources tab shows a connector (nothing is fetched from its base URL here).
      const square = await fetch(`${url}/v1/admin/tenants/${tenant.id}/sources`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          name: 'square-main',
          kind: 'square',
          connector: {
            signatureKey: 'square-signature-key-0123456789',
            notificationUrl: 'https://pos.example.com/v1/webhooks/square',
            accessToken: 'square-access-token-0123456789',
            baseUrl: 'https://connect.squareupsandbox.com',
          },
        }),
      })
      expect(square.status).toBe(201)
      const context = await browser.newContext({ viewport: { width: 768, height: 1024 } })
      const page = await context.newPage()
      await page.goto(`${url}/dashboard/`)
      await page.getByLabel('Admin token').waitFor()
      await checkView(page, 'tablet-sign-in')
      await signIn(page, url)
      await page.locator('[data-figure="events-total"]').waitFor()
      await checkView(page, 'tablet-overview')
      await page.goto(`${url}/dashboard/tenants`)
      await page.getByRole('link', { name: 'Tablet tenant' }).waitFor()
      await checkView(page, 'tablet-tenants')
      for (const [tab, ready] of [
        ['keys', 'API keys'],
        ['sources', 'Sources'],
        ['events', 'Events, newest first'],
        ['orders', 'Orders'],
        ['inventory', 'Stock by store and SKU'],
        ['products', 'Products'],
        ['webhooks', 'Webhook endpoints'],
      ] as const) {
        await page.goto(`${url}/dashboard/tenants/${tenant.id}/${tab}`)
        await page.getByRole('heading', { name: 'Tablet tenant' }).waitFor()
        if (tab !== 'sources') await page.getByRole('table', { name: ready }).waitFor()
        else await page.getByRole('heading', { name: 'Connector settings' }).waitFor()
        await checkView(page, `tablet-${tab}`)
      }

      // The connector's settings change through the form; the secrets left blank stay as they are.
      await page.goto(`${url}/dashboard/tenants/${tenant.id}/sources`)
      await page.getByLabel('Notification URL').fill('https://pos.example.com/v1/webhooks/square-2')
      await page.getByRole('button', { name: 'Save connector' }).click()
      await page.getByText('Saved.').waitFor()
      const [source] = await listSources(url, tenant.id)
      expect(source?.connector?.settings.notificationUrl).toBe('https://pos.example.com/v1/webhooks/square-2')

      // A source's signing secret is rotated, then the previous one retired.
      await page.getByLabel("New source's name").fill('till-2')
      await page.getByRole('button', { name: 'Create source' }).click()
      await page.getByRole('heading', { name: /till-2/ }).waitFor()
      await page.getByRole('button', { name: 'Generate' }).click()
      await page.getByRole('button', { name: 'Rotate' }).click()
      await page.getByText(/signing secret of till-2 was rotated/).waitFor()
      await page.getByRole('button', { name: 'Retire previous secret' }).click()
      await page.getByText(/previous signing secret of till-2 is no longer accepted/).waitFor()
      await page.getByText(/Signed requests required/).waitFor()
      await context.close()
    }, 180_000)
  },
)
