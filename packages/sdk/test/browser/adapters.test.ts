// The browser adapters in real Chromium: every check of the QueueStore and SecureStore contracts runs inside a
// page (one vitest test per check, named after it), then a reload in the middle of a flush, and a scan of
// everything the page stored for the credentials it was given.
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { StoredBatch } from '../../src/core/ports.js'
import { queueStoreContract, secureStoreContract } from '../../src/testing/index.js'
import { chromiumInstalled, chromiumPath, openRunnerPage, type ServedPage } from './chromium.js'
import type { PageApi } from './page/runner.js'

const installed = chromiumInstalled()
if (!installed) {
  const message = `Chromium is not installed at ${chromiumPath} (apt-get install chromium): the browser adapter tests cannot run`
  if (process.env.CI_REQUIRE_TOOLS === '1') throw new Error(message)
  console.warn(`skipped: ${message}`)
}

const notCalled = () => {
  throw new Error('listing names only')
}
const contracts = {
  IndexedDbQueueStore: queueStoreContract(notCalled).map((c) => c.name),
  BrowserSecureStore: secureStoreContract(notCalled).map((c) => c.name),
}

describe.skipIf(!installed)('browser adapters in Chromium', () => {
  let served: ServedPage
  const page = () => served.page
  let onAck: (message: FlushMessage) => void = () => {}

  beforeAll(async () => {
    served = await openRunnerPage()
    // Exposed once; survives reloads. The page awaits each call, so the test has the message before the
    // page takes its next step.
    await page().exposeFunction('ack', (message: FlushMessage) => onAck(message))
  }, 60_000)

  afterAll(async () => {
    await served?.close()
  })

  for (const [suite, names] of Object.entries(contracts)) {
    describe(`${suite} passes the ${suite === 'BrowserSecureStore' ? 'SecureStore' : 'QueueStore'} contract`, () => {
      for (const name of names) {
        it(name, async () => {
          await page().evaluate(([s, n]) => pageApi().runCheck(s, n), [suite, name] as const)
        })
      }
    })
  }

  describe('a reload in the middle of a flush loses no record and puts none in two places', () => {
    const triggers = [
      {
        when: "batch A's completion and batch B's deferral are in flight",
        kind: 'completing',
        subject: 'batch-a',
      },
      {
        when: "batch A's completion runs unawaited beside the next append",
        kind: 'appending',
        subject: 'g9',
      },
      { when: 'a batch is being formed', kind: 'saving', subject: 'loop-14' },
      { when: 'events are being appended', kind: 'appending', subject: 'g17' },
    ] as const

    for (const [round, trigger] of triggers.entries()) {
      it(`reloading while ${trigger.when} leaves each record queued, in one open batch, or gone with its completed batch`, async () => {
        const queue = `reload-${round}-${Date.now()}`
        const prepared = await page().evaluate((q) => pageApi().prepareFlush(q), queue)
        const log = new FlushLog()
        let reloaded: Promise<unknown> | undefined
        onAck = (message) => {
          log.add(message)
          const subject =
            message.kind === 'appending' ? `g${message.group}` : 'key' in message ? message.key : ''
          if (reloaded === undefined && message.kind === trigger.kind && subject === trigger.subject) {
            // Not awaited here: the page is waiting for this call to return before it goes on with the flush.
            reloaded = page().reload()
          }
        }
        await page().evaluate((q) => pageApi().startFlush(q, 1_000), queue)
        await expect.poll(() => reloaded !== undefined, { timeout: 20_000 }).toBe(true)
        await reloaded
        await page().waitForFunction(() => 'posSdkPage' in globalThis)
        onAck = () => {}

        const snapshot = await page().evaluate((q) => pageApi().inspectQueue(q), queue)
        expect(log.finished, 'the flush was still running when the page reloaded').toBe(false)
        expect(snapshot.violations).toEqual([])

        const ids = snapshot.records.map((r) => r.id)
        expect(ids.length, 'no event is stored twice').toBe(new Set(ids).size)
        const present = new Set(ids)
        const open = new Map(snapshot.batches.map((b) => [b.key, b]))

        // A batch is never half completed: it is open with the key and bytes it was formed with, or it is gone
        // together with all of its records.
        const known = new Map<string, { batch: StoredBatch; ids: string[] }>([
          ['batch-a', { batch: prepared.a, ids: prepared.ids.slice(0, 20) }],
          ['batch-b', { batch: prepared.b, ids: prepared.ids.slice(20, 40) }],
          ...log.saved,
        ])
        for (const [key, { batch, ids: batchIds }] of known) {
          const stored = open.get(key)
          if (stored === undefined) {
            expect(log.completing.has(key), `batch ${key} is gone, so its completion had started`).toBe(true)
            expect(
              batchIds.filter((id) => present.has(id)),
              `records of completed batch ${key}`,
            ).toEqual([])
          } else {
            expect(log.completed.has(key), `batch ${key} was completed, yet it is open`).toBe(false)
            expect({ key: stored.key, body: stored.body, seqs: stored.seqs }).toEqual({
              key: batch.key,
              body: batch.body,
              seqs: batch.seqs,
            })
            expect(snapshot.batchRecords[key]).toEqual(batch.seqs)
          }
        }
        const b = open.get('batch-b')
        expect(b, 'batch B, never completed, is open').toBeDefined()
        if (log.deferred) expect([b?.attempts, b?.notBefore]).toEqual([1, 5_000])
        // An open batch the test did not hear about is the one being formed when the page reloaded.
        for (const key of open.keys())
          expect(known.has(key) || log.saving.has(key), `unknown batch ${key}`).toBe(true)

        // Every event whose append resolved is still there, unless its batch was completed.
        const completedIds = new Set([...known].filter(([key]) => !open.has(key)).flatMap(([, v]) => v.ids))
        const resolved = [...prepared.ids, ...[...log.appended].flatMap((g) => log.groups.get(g) ?? [])]
        expect(
          resolved.filter((id) => !present.has(id) && !completedIds.has(id)),
          'lost events',
        ).toEqual([])
        // An append in flight at the reload landed whole or not at all.
        for (const [group, groupIds] of log.groups) {
          if (log.appended.has(group)) continue
          const landed = groupIds.filter((id) => present.has(id)).length
          expect([0, groupIds.length], `group ${group} landed ${landed} of ${groupIds.length}`).toContain(
            landed,
          )
        }

        // The queue goes on after the reload, with seqs above every earlier one.
        const seq = await page().evaluate((q) => pageApi().appendAfterReload(q), queue)
        const earlier = [
          ...snapshot.records.map((r) => r.seq),
          ...[...known.values()].flatMap((k) => k.batch.seqs),
        ]
        expect(seq).toBeGreaterThan(Math.max(...earlier))
      }, 60_000)
    }
  })

  describe('credentials', () => {
    const apiKey = `pos_live_${randomBytes(16).toString('hex')}`
    const signingSecret = `whsec_${randomBytes(24).toString('base64url')}`

    beforeAll(async () => {
      await page().evaluate(([k, s]) => pageApi().storeCredentials(k, s), [apiKey, signingSecret] as const)
    })

    it('are read back as they were set', async () => {
      expect(await page().evaluate(() => pageApi().readCredential('apiKey'))).toBe(apiKey)
      expect(await page().evaluate(() => pageApi().readCredential('signingSecret'))).toBe(signingSecret)
    })

    it('appear nowhere in IndexedDB, localStorage or sessionStorage: not raw, base64 or hex', async () => {
      const dump = await page().evaluate(() => pageApi().dumpStorage())
      expect(dump.databases).toEqual(expect.arrayContaining(['pos-sdk-secure:scan', 'pos-sdk-queue:scan']))
      const text = dump.text.join('\n')
      expect(text.length).toBeGreaterThan(0)
      for (const secret of [apiKey, signingSecret]) {
        for (const form of encodings(secret)) expect(text.includes(form), `found ${form}`).toBe(false)
      }
      // The scan itself can see what it looks for: the events the queue holds are found in the same dump.
      expect(text).toContain('scan-1')
    })

    it('are kept as IV and ciphertext only, under a key that script cannot export', async () => {
      const sealed = await page().evaluate(() => pageApi().sealedRecords())
      expect(sealed.names.sort()).toEqual(['apiKey', 'signingSecret'])
      expect(sealed.fields).toEqual([
        ['ciphertext', 'iv'],
        ['ciphertext', 'iv'],
      ])
      const text = sealed.text.join('\n')
      for (const secret of [apiKey, signingSecret]) expect(text.includes(secret)).toBe(false)

      const key = await page().evaluate(() => pageApi().inspectKey())
      expect(key).toMatchObject({ type: 'secret', extractable: false })
      expect(key.usages.sort()).toEqual(['decrypt', 'encrypt'])
      expect(key.exportError, 'exportKey rejects').toMatch(/InvalidAccessError/)
    })
  })
})

/** The page's API. Only ever called inside page.evaluate, where the runner defined it as a global. */
function pageApi(): PageApi {
  return (globalThis as unknown as { pageApi: () => PageApi }).pageApi()
}

function encodings(secret: string): string[] {
  const bytes = Buffer.from(secret, 'utf8')
  return [
    secret,
    bytes.toString('base64'),
    bytes.toString('base64url'),
    bytes.toString('hex'),
    bytes.toString('hex').toUpperCase(),
  ]
}

type FlushMessage =
  | { kind: 'appending' | 'appended'; group: number; ids: string[] }
  | { kind: 'saving' | 'completing' | 'completed' | 'deferred'; key: string }
  | { kind: 'saved'; batch: StoredBatch; ids: string[] }
  | { kind: 'finished' }

/** What the page told the test had started and what had resolved before the reload. */
class FlushLog {
  readonly groups = new Map<number, string[]>()
  readonly appended = new Set<number>()
  readonly saving = new Set<string>()
  readonly saved = new Map<string, { batch: StoredBatch; ids: string[] }>()
  readonly completing = new Set<string>()
  readonly completed = new Set<string>()
  deferred = false
  finished = false

  add(message: FlushMessage): void {
    switch (message.kind) {
      case 'appending':
        this.groups.set(message.group, message.ids)
        break
      case 'appended':
        this.appended.add(message.group)
        break
      case 'saving':
        this.saving.add(message.key)
        break
      case 'saved':
        this.saved.set(message.batch.key, { batch: message.batch, ids: message.ids })
        break
      case 'completing':
        this.completing.add(message.key)
        break
      case 'completed':
        this.completed.add(message.key)
        break
      case 'deferred':
        this.deferred = true
        break
      case 'finished':
        this.finished = true
        break
    }
  }
}
