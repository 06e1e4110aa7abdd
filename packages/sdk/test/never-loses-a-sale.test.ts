// The proof of "never loses a sale": a real server and a separate device process recording 5,000 events while
// the test SIGKILLs the device at random moments (while it writes, while it flushes) and takes the server down
// and up once. After the last restart has drained its queue, the server holds every event the device was told
// was recorded, each once, and no batch was written twice (a retried batch is answered as a replay). One kill
// lands after the server stored a batch and before the device heard so (a proxy holds the answer back), so at
// least one batch must come back after a restart and be answered as a replay.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, request, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openEncryptedFileSecureStore } from '../src/node/index.js'
import { type DeviceServer, startDeviceServer, waitFor } from './helpers/server.js'

const TOTAL = 5_000
const KILLS = 6
/** The kill that falls after the server stored a batch and before its answer reached the device. */
const KILL_AFTER_STORED = 5
const PASSPHRASE = 'device-test-passphrase'
const sdkDir = new URL('../', import.meta.url).pathname

interface Device {
  readonly child: ChildProcess
  /** The last id whose record() resolved, and the one being recorded when the output stopped. */
  lastRecorded: number
  inFlight: number | undefined
  flushes: number
  sends: number
  readonly lines: string[]
  readonly exited: Promise<void>
}

function startDevice(dir: string, url: string, source: string, from: number): Device {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'test/fixtures/device.ts',
      join(dir, 'queue.db'),
      join(dir, 'secrets.json'),
      url,
      source,
      String(TOTAL),
    ],
    {
      cwd: sdkDir,
      env: {
        NODE_ENV: 'test',
        PATH: process.env.PATH ?? '',
        DEVICE_PASSPHRASE: PASSPHRASE,
        DEVICE_FROM: String(from),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  const device: Device = {
    child,
    lastRecorded: from - 1,
    inFlight: undefined,
    flushes: 0,
    sends: 0,
    lines: [],
    exited: new Promise((resolve) => child.on('exit', () => resolve())),
  }
  let partial = ''
  child.stdout!.on('data', (chunk: Buffer) => {
    partial += chunk.toString('utf8')
    const complete = partial.split('\n')
    partial = complete.pop() ?? ''
    for (const line of complete) {
      device.lines.push(line)
      const [word, value] = line.split(' ')
      if (word === 'recording') device.inFlight = Number(value)
      if (word === 'recorded') {
        device.lastRecorded = Number(value)
        device.inFlight = undefined
      }
      if (word === 'flushed') device.flushes++
      if (word === 'sending') device.sends++
    }
  })
  child.stderr!.on('data', (chunk: Buffer) => device.lines.push(`stderr ${chunk.toString('utf8')}`))
  return device
}

/** Waits for the device to reach a point; a timeout says what the device printed last. */
async function waitForDevice(device: Device, reached: () => boolean, description: string, timeoutMs: number) {
  try {
    await waitFor(() => reached() || device.child.exitCode !== null, { description, timeoutMs })
  } catch (error) {
    throw new Error(
      `${(error as Error).message}; the device's last lines: ${device.lines.slice(-8).join(' | ')}`,
    )
  }
}

interface AnswerHoldingProxy {
  readonly url: string
  /** Ingest answers held back so far: each reached the proxy whole, so the server had stored its batch. */
  held(): number
  /** The next ingest answer is held back instead of passed on. */
  holdNextIngestAnswer(): void
  close(): Promise<void>
}

/** Passes every request between the device and the server through, except an ingest answer it was told to hold. */
async function startAnswerHoldingProxy(target: string): Promise<AnswerHoldingProxy> {
  let armed = false
  const held: ServerResponse[] = []
  const proxy = createServer((req, res) => {
    const upstream = request(
      `${target}${req.url ?? '/'}`,
      { method: req.method, headers: req.headers },
      (answer) => {
        if (armed && req.method === 'POST' && answer.statusCode === 201) {
          armed = false
          answer.on('end', () => held.push(res))
          answer.resume()
          return
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
      },
    )
    // The server is down: the device sees a dropped connection, as it would without the proxy.
    upstream.on('error', () => res.destroy())
    req.pipe(upstream)
  })
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    held: () => held.length,
    holdNextIngestAnswer() {
      armed = true
    },
    async close() {
      for (const res of held) res.destroy()
      proxy.closeAllConnections()
      await new Promise<void>((resolve) => proxy.close(() => resolve()))
    },
  }
}

describe('a device that is killed again and again never loses a sale', () => {
  let server: DeviceServer
  let proxy: AnswerHoldingProxy
  let dir: string

  beforeAll(async () => {
    server = await startDeviceServer()
    proxy = await startAnswerHoldingProxy(server.url)
    dir = mkdtempSync(join(tmpdir(), 'pos-sdk-device-'))
    const secrets = await openEncryptedFileSecureStore(join(dir, 'secrets.json'), PASSPHRASE)
    await secrets.set('apiKey', server.apiKey)
    await secrets.set('signingSecret', server.signingSecret)
  })
  afterAll(async () => {
    await proxy?.close()
    await server?.close()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('holds every acknowledged event exactly once after SIGKILLs of the device and a server restart', async () => {
    const random = () => Math.random()
    let from = 1
    /** Ids that may have been stored locally without the device saying so (killed between the two lines). */
    const maybeRecordedTwice = new Set<string>()
    const allLines: string[] = []
    let serverRestarted = false
    for (let kill = 0; kill < KILLS; kill++) {
      const device = startDevice(dir, proxy.url, server.source, from)
      // A random moment: after some more records (the device flushes every 20 ms meanwhile), so the kill
      // falls while it writes or while a batch is in flight.
      const target = Math.min(TOTAL - 1, from + 200 + Math.floor(random() * 500))
      await waitForDevice(
        device,
        () => device.lastRecorded >= target,
        `the device to record up to ${target}`,
        45_000,
      )
      expect(
        device.child.exitCode,
        `the device exited early: ${device.lines.slice(-8).join(' | ')}`,
      ).toBeNull()
      if (kill === KILL_AFTER_STORED) {
        // Mid-flush, after the server stored the batch: the device never hears so and must send it again.
        const held = proxy.held()
        proxy.holdNextIngestAnswer()
        await waitForDevice(device, () => proxy.held() > held, 'the server to store a held batch', 45_000)
      } else if (kill % 2 === 1) {
        // Mid-flush: the moment a batch is on its way.
        const sends = device.sends
        await waitForDevice(device, () => device.sends > sends, 'the device to send a batch', 45_000)
      }
      if (kill === 2) {
        // The server goes down under the device (which goes on recording, its flushes failing) and comes back.
        await server.stop('SIGKILL')
        const during = device.lastRecorded + 100
        await waitForDevice(
          device,
          () => device.lastRecorded >= Math.min(during, TOTAL - 1),
          'the device to record while the server is down',
          45_000,
        )
        await server.start()
        serverRestarted = true
      }
      device.child.kill('SIGKILL')
      await device.exited
      allLines.push(...device.lines)
      if (device.inFlight !== undefined) maybeRecordedTwice.add(`evt-${device.inFlight}`)
      from = device.lastRecorded + 1
    }
    expect(serverRestarted).toBe(true)

    // The last run records the rest and drains the queue.
    const last = startDevice(dir, proxy.url, server.source, from)
    await waitForDevice(
      last,
      () => last.lines.includes('drained'),
      'the last device run to drain its queue',
      60_000,
    )
    await last.exited
    allLines.push(...last.lines)
    expect(last.lines).toContain('drained')
    expect(last.lastRecorded).toBe(TOTAL)

    const rows = await server.query<{ event_id: string; request_key: string | null }>(
      'SELECT event_id, request_key FROM events WHERE source_name = $1',
      [server.source],
    )
    const stored = rows.map((r) => r.event_id)
    const expected = Array.from({ length: TOTAL }, (_, i) => `evt-${i + 1}`)
    // None missing, none twice (the table's key would refuse a second row, so count the ids as well).
    expect(new Set(stored).size).toBe(stored.length)
    expect(stored.length).toBe(TOTAL)
    expect([...stored].sort()).toEqual([...expected].sort())
    // Every event was stored by an SDK batch key, and every key the server stored stored at least one new
    // event: no batch was written twice (a retry was answered as a replay, and wrote nothing).
    expect(rows.every((r) => r.request_key?.startsWith('sdk-'))).toBe(true)
    const [keysWithoutEvents] = await server.query<{ empty: number }>(
      `SELECT count(*)::int AS empty FROM idempotency_keys k
         WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.tenant_id = k.tenant_id AND e.request_key = k.key)`,
    )
    const flushed = allLines.filter((l) => l.startsWith('flushed '))
    const duplicates = flushed.flatMap((l) => (l.split(' ')[3] ?? '').split(',').filter(Boolean))
    // The only duplicates the server may count are ids the device was killed while recording, which the
    // app then recorded again (it was never told they were stored).
    for (const id of duplicates) expect(maybeRecordedTwice.has(id)).toBe(true)
    expect(keysWithoutEvents?.empty).toBeLessThanOrEqual(maybeRecordedTwice.size)
    // The batch whose answer was held came back after the restart with its key and was answered as a replay.
    const replays = flushed.filter((l) => l.includes(' replayed'))
    expect(replays.length).toBeGreaterThanOrEqual(1)
    console.info(
      `device crash test: ${KILLS} kills, ${flushed.length} batches answered, ` +
        `${replays.length} of them replays, ${duplicates.length} duplicate ids`,
    )
  }, 180_000)
})
