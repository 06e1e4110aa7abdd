// The whole browser SDK in real Chromium against a real server: the core client on the IndexedDB queue and the
// WebCrypto secure store records sales and flushes them in batches through a proxy (the page's own origin, so
// no CORS), and the page is reloaded while one ingest request is in flight: once after the server stored it
// and before its answer reached the page, once before it reached the server at all. After the reload the page
// builds the client again on the same IndexedDB, and its flush stores every sale exactly once: the batch that
// was in flight goes again with the same Idempotency-Key and bytes, answered as a replay when it had arrived.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type DeviceServer, startDeviceServer, waitFor } from '../helpers/server.js'
import { chromiumAvailable, openRunnerPage, type ServedPage } from './chromium.js'

const installed = chromiumAvailable()

const SALES = 200
const BATCH = 20
/** The ingest request held in flight (0-based): the third batch, after two were answered. */
const HELD = 2

interface Ingest {
  readonly key: string
  readonly ids: string[]
  /** Whether the request reached the server, and how it answered. */
  forwarded: boolean
  status?: number
  replayed?: boolean
  /** Whether the page got the answer. */
  answered: boolean
}

type Hold = 'after-the-server-stored-it' | 'before-it-reached-the-server'

// Hop-by-hop headers and those fetch itself sets or undoes (it decompresses), never copied across the proxy.
const notForwarded = new Set([
  'host',
  'connection',
  'keep-alive',
  'content-length',
  'transfer-encoding',
  'accept-encoding',
  'content-encoding',
])

function forwardable(headers: Iterable<[string, string | string[] | undefined]>): [string, string][] {
  const out: [string, string][] = []
  for (const [name, value] of headers) {
    if (value === undefined || notForwarded.has(name.toLowerCase())) continue
    for (const v of Array.isArray(value) ? value : [value]) out.push([name, v])
  }
  return out
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

describe.skipIf(!installed)('the browser client reloaded while a batch is in flight to a real server', () => {
  let server: DeviceServer
  let served: ServedPage
  const page = () => served.page
  /** Every ingest request the page sent, in order; the variant running decides which one is held. */
  let ingests: Ingest[] = []
  let hold: Hold = 'after-the-server-stored-it'
  let held: { ingest: Ingest; res: ServerResponse } | undefined

  async function forward(req: IncomingMessage, body: string) {
    return fetch(`${server.url}${req.url}`, {
      method: req.method ?? 'GET',
      headers: forwardable(Object.entries(req.headers)),
      ...(body === '' ? {} : { body }),
    })
  }

  async function proxy(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req)
    const ingest: Ingest | undefined =
      req.method === 'POST' && req.url?.startsWith('/v1/ingest/') === true
        ? {
            key: String(req.headers['idempotency-key']),
            ids: (JSON.parse(body) as { events: { id: string }[] }).events.map((e) => e.id),
            forwarded: false,
            answered: false,
          }
        : undefined
    if (ingest !== undefined) ingests.push(ingest)
    const holding = ingest !== undefined && ingests.length - 1 === HELD
    if (holding) held = { ingest, res }
    if (holding && hold === 'before-it-reached-the-server') return
    const response = await forward(req, body)
    const text = await response.text()
    if (ingest !== undefined) {
      ingest.forwarded = true
      ingest.status = response.status
      ingest.replayed = response.headers.get('idempotent-replayed') === 'true'
    }
    if (holding) return
    res.writeHead(response.status, forwardable(response.headers.entries()).flat())
    res.end(text)
    if (ingest !== undefined) ingest.answered = true
  }

  beforeAll(async () => {
    server = await startDeviceServer()
    served = await openRunnerPage((req, res) => {
      proxy(req, res).catch((error: unknown) => {
        res.destroy(error instanceof Error ? error : new Error(String(error)))
      })
    })
  }, 90_000)

  afterAll(async () => {
    held?.res.destroy()
    await served?.close()
    await server?.close()
  })

  const storedRows = (prefix: string) =>
    server.query<{ event_id: string; request_key: string | null }>(
      'SELECT event_id, request_key FROM events WHERE source_name = $1 AND event_id LIKE $2',
      [server.source, `${prefix}-%`],
    )

  for (const variant of ['after-the-server-stored-it', 'before-it-reached-the-server'] as const) {
    it(`a reload while a batch is in flight, ${variant.replaceAll('-', ' ')}, ends with every sale stored exactly once`, async () => {
      hold = variant
      ingests = []
      held = undefined
      const device = `client-${variant}-${Date.now()}`
      const prefix = `sale-${variant}-${Date.now()}`
      await page().evaluate(([d, s, b]) => posSdkPage.openClient(d, s, b), [
        device,
        server.source,
        BATCH,
      ] as const)
      await page().evaluate(([k, s]) => posSdkPage.setClientCredentials(k, s), [
        server.apiKey,
        server.signingSecret,
      ] as const)
      const ids = await page().evaluate(([p, n]) => posSdkPage.recordSales(p, n), [prefix, SALES] as const)
      expect(new Set(ids).size).toBe(SALES)

      await page().evaluate(() => posSdkPage.startClientFlush())
      const inFlight = await waitFor(
        () =>
          held !== undefined && (variant === 'before-it-reached-the-server' || held.ingest.forwarded)
            ? held
            : undefined,
        {
          description: `ingest request ${HELD + 1} to be held ${variant.replaceAll('-', ' ')}`,
          timeoutMs: 20_000,
        },
      )
      if (variant === 'after-the-server-stored-it') {
        expect(inFlight.ingest.status, 'the server stored the held batch').toBe(201)
        expect((await storedRows(prefix)).length).toBe((HELD + 1) * BATCH)
      } else {
        expect(inFlight.ingest.forwarded).toBe(false)
        expect((await storedRows(prefix)).length).toBe(HELD * BATCH)
      }
      expect(ingests.slice(0, HELD).every((i) => i.answered)).toBe(true)

      // The page goes away with the request unanswered; its connection is dropped, the answer never sent.
      await page().reload()
      await page().waitForFunction(() => 'posSdkPage' in globalThis)
      inFlight.res.destroy()
      const beforeReload = ingests.length
      expect(beforeReload, 'no request after the held one before the reload').toBe(HELD + 1)

      // Credentials are not given again: the secure store kept them across the reload.
      await page().evaluate(([d, s, b]) => posSdkPage.openClient(d, s, b), [
        device,
        server.source,
        BATCH,
      ] as const)
      await page().evaluate(() => posSdkPage.startFlushAfterReload())
      const after = await page().evaluate(() => posSdkPage.finishFlush())
      expect(after.report).toEqual({ delivered: SALES - HELD * BATCH, rejected: 0 })
      expect(after.status).toEqual({ queued: 0, batched: 0, rejected: 0 })

      // The batch in flight went first again, with the same key and bytes.
      const resent = ingests[beforeReload]
      expect(resent?.key).toBe(inFlight.ingest.key)
      expect(resent?.ids).toEqual(inFlight.ingest.ids)
      expect(inFlight.ingest.key).toMatch(/^sdk-/)
      expect(ingests.filter((i) => i.key === inFlight.ingest.key)).toHaveLength(2)
      const replayedAfterReload = after.flushed.map((f) => f.replayed)
      if (variant === 'after-the-server-stored-it') {
        expect(resent?.status).toBe(201)
        expect(resent?.replayed, 'the re-sent batch is answered as a replay').toBe(true)
        expect(replayedAfterReload).toEqual([true, ...Array(SALES / BATCH - HELD - 1).fill(false)])
      } else {
        expect(resent?.replayed).toBe(false)
        expect(replayedAfterReload.every((r) => r === false)).toBe(true)
      }
      expect(after.flushed.map((f) => f.events)).toEqual(Array(SALES / BATCH - HELD).fill(BATCH))
      // Every other key went once; every answer reached the page.
      expect(new Set(ingests.map((i) => i.key)).size).toBe(ingests.length - 1)
      expect(ingests.filter((i) => i !== inFlight.ingest).every((i) => i.answered)).toBe(true)

      // The server's event log: every sale once, each under the key of the batch that carried it.
      const rows = await storedRows(prefix)
      expect(rows.map((r) => r.event_id).sort()).toEqual([...ids].sort())
      const keyOf = new Map(ingests.flatMap((i) => i.ids.map((id) => [id, i.key] as const)))
      for (const row of rows) expect(row.request_key, row.event_id).toBe(keyOf.get(row.event_id))
    }, 60_000)
  }
})
