// What the Chromium tests run inside the page: the browser adapters, the adapter contracts, and the scenarios
// that need a real page (a reload in the middle of a flush, a scan of everything the page stored, the whole
// client flushing to a real server and reloaded while a request is in flight). Bundled by
// esbuild and reached by the Node side through `page.evaluate(() => window.posSdkPage...)`.
import {
  BrowserSecureStore,
  IndexedDbQueueStore,
  queueDatabaseName,
  secureDatabaseName,
} from '../../../src/browser/index.js'
import { createClient, type DeviceClient, type FlushReport } from '../../../src/core/client.js'
import type { IngestEvent, StoredBatch } from '../../../src/core/ports.js'
import { type ContractCheck, queueStoreContract, secureStoreContract } from '../../../src/testing/index.js'

let location = 0
const unique = (prefix: string) => `${prefix}-${Date.now()}-${++location}`

const suites: Record<string, () => ContractCheck[]> = {
  IndexedDbQueueStore: () =>
    queueStoreContract(() => {
      const name = unique('contract')
      return { open: () => IndexedDbQueueStore.open(name) }
    }),
  BrowserSecureStore: () =>
    secureStoreContract(() => {
      const name = unique('contract')
      return { open: () => BrowserSecureStore.open(name) }
    }),
}

async function runCheck(suite: string, name: string): Promise<void> {
  const checks = suites[suite]?.()
  const check = checks?.find((c) => c.name === name)
  if (check === undefined) throw new Error(`no check "${name}" in suite ${suite}`)
  await check.run()
}

// ---- raw IndexedDB reads, bypassing the adapters ------------------------------------------------------------

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result)
    req.onerror = () => reject(req.error)
  })
}

function openRaw(name: string): Promise<IDBDatabase> {
  return request(indexedDB.open(name))
}

async function readAll(db: IDBDatabase, store: string): Promise<{ keys: IDBValidKey[]; values: unknown[] }> {
  const tx = db.transaction(store, 'readonly')
  const [keys, values] = await Promise.all([
    request(tx.objectStore(store).getAllKeys()),
    request(tx.objectStore(store).getAll()),
  ])
  return { keys, values }
}

/** Every value as text a scan can search: strings as they are, bytes as Latin-1 (so UTF-8 plaintext shows). */
function flatten(value: unknown, out: string[]): void {
  if (value === null || value === undefined) return
  if (typeof value === 'string') out.push(value)
  else if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    out.push(String(value))
  else if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) {
    const bytes =
      value instanceof ArrayBuffer
        ? new Uint8Array(value)
        : new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
    out.push(Array.from(bytes, (b) => String.fromCharCode(b)).join(''))
  } else if (value instanceof CryptoKey)
    out.push(`CryptoKey(${value.type}, extractable=${value.extractable})`)
  else if (Array.isArray(value)) for (const item of value) flatten(item, out)
  else if (typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      out.push(k)
      flatten(v, out)
    }
  }
}

/** Everything this origin stored: every record of every object store of every database, and Web Storage. */
async function dumpStorage(): Promise<{ databases: string[]; text: string[] }> {
  const text: string[] = []
  const databases: string[] = []
  for (const info of await indexedDB.databases()) {
    if (info.name === undefined) continue
    databases.push(info.name)
    const db = await openRaw(info.name)
    for (const store of Array.from(db.objectStoreNames)) {
      const { keys, values } = await readAll(db, store)
      flatten(keys, text)
      flatten(values, text)
    }
    db.close()
  }
  for (const storage of [localStorage, sessionStorage]) {
    for (let i = 0; i < storage.length; i++) {
      const key = storage.key(i)
      if (key !== null) text.push(key, storage.getItem(key) ?? '')
    }
  }
  return { databases, text }
}

// ---- credentials ---------------------------------------------------------------------------------------------

async function storeCredentials(apiKey: string, signingSecret: string): Promise<void> {
  const secure = await BrowserSecureStore.open('scan')
  await secure.set('apiKey', apiKey)
  await secure.set('signingSecret', signingSecret)
  await secure.close()
  // The queue the SDK would fill alongside: events only, never credentials.
  const queue = await IndexedDbQueueStore.open('scan')
  await queue.append([sampleEvent('scan-1'), sampleEvent('scan-2')], Date.now())
  await queue.close()
}

async function readCredential(name: string): Promise<string | undefined> {
  const secure = await BrowserSecureStore.open('scan')
  try {
    return await secure.get(name)
  } finally {
    await secure.close()
  }
}

/** What the secure store's key looks like to script, read straight from IndexedDB. */
async function inspectKey(): Promise<{
  type: string
  extractable: boolean
  usages: string[]
  exportError: string | null
}> {
  const db = await openRaw(secureDatabaseName('scan'))
  const { values } = await readAll(db, 'keys')
  db.close()
  const key = values[0]
  if (!(key instanceof CryptoKey)) throw new Error('no CryptoKey stored')
  let exportError: string | null = null
  for (const format of ['raw', 'jwk'] as const) {
    try {
      await crypto.subtle.exportKey(format, key)
    } catch (error) {
      exportError = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
      continue
    }
    return { type: key.type, extractable: key.extractable, usages: key.usages, exportError: null }
  }
  return { type: key.type, extractable: key.extractable, usages: key.usages, exportError }
}

/** The secure store's own records: names and what is stored under them, as text. */
async function sealedRecords(): Promise<{ names: string[]; fields: string[][]; text: string[] }> {
  const db = await openRaw(secureDatabaseName('scan'))
  const { keys, values } = await readAll(db, 'secrets')
  db.close()
  const text: string[] = []
  flatten(values, text)
  return {
    names: keys.map(String),
    fields: values.map((v) => Object.keys(v as object).sort()),
    text,
  }
}

// ---- a reload in the middle of a flush -----------------------------------------------------------------------

function sampleEvent(id: string): IngestEvent {
  return {
    id,
    type: 'order.completed',
    occurredAt: '2026-11-28T10:15:00.000Z',
    data: { storeId: 'berlin-1', orderId: id, total: { amount: 1250, currency: 'EUR' } },
  }
}

function batchFrom(
  key: string,
  records: ReadonlyArray<{ seq: number; event: IngestEvent }>,
  createdAt: number,
): StoredBatch {
  return {
    key,
    body: JSON.stringify({ events: records.map((r) => r.event) }),
    seqs: records.map((r) => r.seq),
    createdAt,
    attempts: 0,
    notBefore: 0,
  }
}

declare function ack(message: unknown): Promise<void>

/** Before the flush: 60 queued events, two batches formed from the first 40 (A and B). */
async function prepareFlush(queue: string): Promise<{ a: StoredBatch; b: StoredBatch; ids: string[] }> {
  const store = await IndexedDbQueueStore.open(queue)
  const ids = Array.from({ length: 60 }, (_, i) => `pre-${i}`)
  const records = await store.append(ids.map(sampleEvent), 1)
  const a = batchFrom('batch-a', records.slice(0, 20), 1)
  const b = batchFrom('batch-b', records.slice(20, 40), 2)
  await store.saveBatch(a)
  await store.saveBatch(b)
  await store.close()
  return { a, b, ids }
}

/**
 * The flush, started and not awaited: appends in groups of three, forms a batch every fifth group and
 * completes it two groups later, and part-way through completes batch A and defers B without waiting for
 * either. Every step that finished is acknowledged to the test (which waits for the acknowledgement before the
 * next step starts), so the test knows what had resolved when it reloads the page.
 */
function startFlush(queue: string, steps: number): void {
  void (async () => {
    const store = await IndexedDbQueueStore.open(queue)
    const toComplete: string[] = []
    for (let i = 0; i < steps; i++) {
      const ids = [0, 1, 2].map((j) => `g${i}-${j}`)
      await ack({ kind: 'appending', group: i, ids })
      await store.append(ids.map(sampleEvent), 10 + i)
      await ack({ kind: 'appended', group: i, ids })
      if (i === 8) {
        await ack({ kind: 'completing', key: 'batch-a' })
        void store.completeBatch('batch-a').then(() => ack({ kind: 'completed', key: 'batch-a' }))
        void store.deferBatch('batch-b', 1, 5_000).then(() => ack({ kind: 'deferred', key: 'batch-b' }))
      }
      if (i % 5 === 4) {
        const key = `loop-${i}`
        const batch = batchFrom(key, await store.unbatched(10), 100 + i)
        await ack({ kind: 'saving', key })
        await store.saveBatch(batch)
        await ack({ kind: 'saved', batch, ids: JSON.parse(batch.body).events.map((e: IngestEvent) => e.id) })
        toComplete.push(key)
      }
      if (i % 5 === 1 && toComplete.length > 0) {
        const key = toComplete.shift() as string
        await ack({ kind: 'completing', key })
        await store.completeBatch(key)
        await ack({ kind: 'completed', key })
      }
    }
    await ack({ kind: 'finished' })
  })()
}

interface QueueSnapshot {
  records: Array<{ seq: number; id: string; queued: boolean; batch: string | null }>
  batches: StoredBatch[]
  batchRecords: Record<string, number[]>
  counts: { queued: number; batched: number; rejected: number }
  violations: string[]
}

/** The queue as the adapter sees it and as IndexedDB holds it, with every broken invariant named. */
async function inspectQueue(queue: string): Promise<QueueSnapshot> {
  const store = await IndexedDbQueueStore.open(queue)
  const batches = await store.openBatches()
  const batchRecords: Record<string, number[]> = {}
  for (const batch of batches)
    batchRecords[batch.key] = (await store.batchRecords(batch.key)).map((r) => r.seq)
  const counts = await store.counts()
  await store.close()

  const db = await openRaw(queueDatabaseName(queue))
  const { values } = await readAll(db, 'records')
  db.close()
  const rows = values as Array<{ seq: number; event: IngestEvent; queued?: number; batch?: string }>
  const violations: string[] = []
  const byKey = new Map(batches.map((b) => [b.key, b]))
  const owner = new Map<number, string>()
  for (const batch of batches) {
    for (const seq of batch.seqs) {
      const other = owner.get(seq)
      if (other !== undefined) violations.push(`record ${seq} is in batches ${other} and ${batch.key}`)
      owner.set(seq, batch.key)
    }
  }
  const present = new Set<number>()
  for (const row of rows) {
    present.add(row.seq)
    const queued = row.queued === 1
    const inBatch = typeof row.batch === 'string'
    if (queued === inBatch)
      violations.push(
        `record ${row.seq} is ${queued ? 'both queued and batched' : 'neither queued nor batched'}`,
      )
    if (inBatch && owner.get(row.seq) !== row.batch)
      violations.push(`record ${row.seq} names batch ${row.batch}, which does not list it`)
    if (queued && owner.has(row.seq))
      violations.push(`queued record ${row.seq} is listed by batch ${owner.get(row.seq)}`)
  }
  for (const [seq, key] of owner)
    if (!present.has(seq)) violations.push(`batch ${key} lists record ${seq}, which is gone`)
  for (const batch of batches) {
    const events = rows.filter((r) => byKey.get(r.batch ?? '') === batch).sort((x, y) => x.seq - y.seq)
    if (JSON.stringify({ events: events.map((r) => r.event) }) !== batch.body)
      violations.push(`batch ${batch.key}'s body is not its records' events`)
  }
  const queuedCount = rows.filter((r) => r.queued === 1).length
  if (counts.queued !== queuedCount || counts.batched !== rows.length - queuedCount)
    violations.push(`counts ${JSON.stringify(counts)} disagree with the stored rows`)
  return {
    records: rows.map((r) => ({
      seq: r.seq,
      id: r.event.id,
      queued: r.queued === 1,
      batch: r.batch ?? null,
    })),
    batches,
    batchRecords,
    counts,
    violations,
  }
}

/** After the reload the queue takes new events, with seqs above every earlier one. */
async function appendAfterReload(queue: string): Promise<number> {
  const store = await IndexedDbQueueStore.open(queue)
  const [record] = await store.append([sampleEvent('after-reload')], 1)
  await store.close()
  if (record === undefined) throw new Error('append returned nothing')
  return record.seq
}

// ---- the whole client against the real server, reloaded while a request is in flight -------------------------

let client: DeviceClient | undefined
let flushing: Promise<FlushReport> | undefined
const flushedBatches: Array<{ events: number; replayed: boolean }> = []

/**
 * The SDK's client on the IndexedDB queue and the WebCrypto secure store named `device`, talking to this
 * page's own origin (where the test proxies the API to the server), as an app builds it at every start.
 */
async function openClient(device: string, source: string, maxBatchSize: number): Promise<void> {
  client = createClient({
    baseUrl: window.location.origin,
    source,
    queue: await IndexedDbQueueStore.open(device),
    secrets: await BrowserSecureStore.open(device),
    maxBatchSize,
    flushIntervalMs: 0,
  })
  client.on('flushed', (f) => flushedBatches.push({ events: f.events, replayed: f.replayed }))
}

function openedClient(): DeviceClient {
  if (client === undefined) throw new Error('openClient first')
  return client
}

async function setClientCredentials(apiKey: string, signingSecret: string): Promise<void> {
  await openedClient().setCredentials({ apiKey, signingSecret })
}

/** Records `count` sales one by one, each resolving once durable; returns their ids. */
async function recordSales(prefix: string, count: number): Promise<string[]> {
  const ids: string[] = []
  for (let i = 0; i < count; i++) {
    ids.push(
      await openedClient().record({
        id: `${prefix}-${i}`,
        type: 'inventory.adjusted',
        occurredAt: '2026-11-28T10:15:00.000Z',
        data: { storeId: 'berlin-1', sku: `SKU-${i}`, delta: -1 },
      }),
    )
  }
  return ids
}

/** Starts a flush and returns at once; `finishFlush` waits for it. */
function startClientFlush(): void {
  flushing = openedClient().flush()
  // Reported by finishFlush; a reload ends it without an answer.
  flushing.catch(() => undefined)
}

async function finishFlush(): Promise<{
  report: FlushReport
  flushed: Array<{ events: number; replayed: boolean }>
  status: { queued: number; batched: number; rejected: number }
}> {
  if (flushing === undefined) throw new Error('startClientFlush first')
  const report = await flushing
  const { queued, batched, rejected } = await openedClient().status()
  return { report, flushed: flushedBatches, status: { queued, batched, rejected } }
}

/** What the app does when it starts again after the network came back: flush now, no backoff waited for. */
function startFlushAfterReload(): void {
  flushing = openedClient().networkRestored()
  flushing.catch(() => undefined)
}

const api = {
  suites: Object.keys(suites),
  runCheck,
  dumpStorage,
  storeCredentials,
  readCredential,
  inspectKey,
  sealedRecords,
  prepareFlush,
  startFlush,
  inspectQueue,
  appendAfterReload,
  openClient,
  setClientCredentials,
  recordSales,
  startClientFlush,
  startFlushAfterReload,
  finishFlush,
}
export type PageApi = typeof api
;(globalThis as unknown as { posSdkPage: PageApi }).posSdkPage = api
