// The browser queue store when Chromium itself is killed (SIGKILL to all its processes) in the middle of a
// flush and started again on the same profile: what an app's process dying or the OS ending it does. Every
// method resolves only after its IndexedDB transaction completed with strict durability, so an append the
// page saw resolve must be there after the restart.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chromiumAvailable, type KillableChromium, serveRunner, startKillableChromium } from './chromium.js'
import { expectNothingLostOrDoubled, FlushLog, type FlushMessage } from './flush-log.js'

const installed = chromiumAvailable()

describe.skipIf(!installed)('Chromium killed in the middle of a flush', () => {
  let runner: Awaited<ReturnType<typeof serveRunner>>
  let profile: string
  const running: KillableChromium[] = []

  beforeAll(async () => {
    runner = await serveRunner()
    profile = mkdtempSync(join(tmpdir(), 'pos-sdk-chromium-'))
  })

  afterAll(async () => {
    for (const browser of running) await browser.kill()
    await runner?.close()
    if (profile !== undefined) rmSync(profile, { recursive: true, force: true })
  })

  const triggers = [
    { when: 'an append has just resolved', kind: 'appended', subject: 'g12' },
    { when: "batch A's completion runs unawaited beside the next append", kind: 'appending', subject: 'g9' },
  ] as const

  for (const [round, trigger] of triggers.entries()) {
    it(`killing Chromium when ${trigger.when} and restarting it on the same profile loses no event whose append resolved`, async () => {
      const queue = `crash-${round}-${Date.now()}`
      const first = await startKillableChromium(profile, runner.url)
      running.push(first)
      const log = new FlushLog()
      let killed: Promise<void> | undefined
      await first.page.exposeFunction('ack', (message: FlushMessage) => {
        log.add(message)
        if (
          killed === undefined &&
          message.kind === trigger.kind &&
          FlushLog.subject(message) === trigger.subject
        ) {
          // The page is waiting for this call to return; it never will.
          killed = first.kill()
        }
      })
      const prepared = await first.page.evaluate((q) => posSdkPage.prepareFlush(q), queue)
      await first.page.evaluate((q) => posSdkPage.startFlush(q, 1_000), queue)
      await expect.poll(() => killed !== undefined, { timeout: 20_000 }).toBe(true)
      await killed

      const second = await startKillableChromium(profile, runner.url)
      running.push(second)
      try {
        const snapshot = await second.page.evaluate((q) => posSdkPage.inspectQueue(q), queue)
        const earlier = expectNothingLostOrDoubled(prepared, log, snapshot)
        expect(log.appended.size, 'appends had resolved before the kill').toBeGreaterThan(0)
        const seq = await second.page.evaluate((q) => posSdkPage.appendAfterReload(q), queue)
        expect(seq).toBeGreaterThan(earlier)
      } finally {
        // The next test starts Chromium on the same profile, which one browser at a time may hold.
        await second.kill()
      }
    }, 60_000)
  }
})
