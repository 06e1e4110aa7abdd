// The browser adapters in real Chromium: every check of the QueueStore and SecureStore contracts runs inside a
// page (one vitest test per check, named after it), then a reload in the middle of a flush, and a scan of
// everything the page stored for the credentials it was given.
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { queueStoreContract, secureStoreContract } from '../../src/testing/index.js'
import { chromiumAvailable, openRunnerPage, type ServedPage } from './chromium.js'
import { expectNothingLostOrDoubled, FlushLog, type FlushMessage } from './flush-log.js'

const installed = chromiumAvailable()

const notCalled = () => {
  throw new Error('listing names only')
}
const contracts = [
  {
    adapter: 'IndexedDbQueueStore',
    port: 'QueueStore',
    names: queueStoreContract(notCalled).map((c) => c.name),
  },
  {
    adapter: 'BrowserSecureStore',
    port: 'SecureStore',
    names: secureStoreContract(notCalled).map((c) => c.name),
  },
]

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

  for (const { adapter, port, names } of contracts) {
    describe(`${adapter} passes the ${port} contract`, () => {
      for (const name of names) {
        it(name, async () => {
          await page().evaluate(([a, n]) => posSdkPage.runCheck(a, n), [adapter, name] as const)
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
        const prepared = await page().evaluate((q) => posSdkPage.prepareFlush(q), queue)
        const log = new FlushLog()
        let reloaded: Promise<unknown> | undefined
        onAck = (message) => {
          log.add(message)
          const subject = FlushLog.subject(message)
          if (reloaded === undefined && message.kind === trigger.kind && subject === trigger.subject) {
            // Not awaited here: the page is waiting for this call to return before it goes on with the flush.
            reloaded = page().reload()
          }
        }
        await page().evaluate((q) => posSdkPage.startFlush(q, 1_000), queue)
        await expect.poll(() => reloaded !== undefined, { timeout: 20_000 }).toBe(true)
        await reloaded
        await page().waitForFunction(() => 'posSdkPage' in globalThis)
        onAck = () => {}

        const snapshot = await page().evaluate((q) => posSdkPage.inspectQueue(q), queue)
        const earlier = expectNothingLostOrDoubled(prepared, log, snapshot)

        // The queue goes on after the reload, with seqs above every earlier one.
        const seq = await page().evaluate((q) => posSdkPage.appendAfterReload(q), queue)
        expect(seq).toBeGreaterThan(earlier)
      }, 60_000)
    }
  })

  describe('credentials', () => {
    const apiKey = `pos_live_${randomBytes(16).toString('hex')}`
    const signingSecret = `whsec_${randomBytes(24).toString('base64url')}`

    beforeAll(async () => {
      await page().evaluate(([k, s]) => posSdkPage.storeCredentials(k, s), [apiKey, signingSecret] as const)
    })

    it('are read back as they were set', async () => {
      expect(await page().evaluate(() => posSdkPage.readCredential('apiKey'))).toBe(apiKey)
      expect(await page().evaluate(() => posSdkPage.readCredential('signingSecret'))).toBe(signingSecret)
    })

    it('appear nowhere in IndexedDB, localStorage or sessionStorage: not raw, base64 or hex', async () => {
      const dump = await page().evaluate(() => posSdkPage.dumpStorage())
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
      const sealed = await page().evaluate(() => posSdkPage.sealedRecords())
      expect(sealed.names.sort()).toEqual(['apiKey', 'signingSecret'])
      expect(sealed.fields).toEqual([
        ['ciphertext', 'iv'],
        ['ciphertext', 'iv'],
      ])
      const text = sealed.text.join('\n')
      for (const secret of [apiKey, signingSecret]) expect(text.includes(secret)).toBe(false)

      const key = await page().evaluate(() => posSdkPage.inspectKey())
      expect(key).toMatchObject({ type: 'secret', extractable: false })
      expect(key.usages.sort()).toEqual(['decrypt', 'encrypt'])
      expect(key.exportError, 'exportKey rejects').toMatch(/InvalidAccessError/)
    })
  })
})

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
