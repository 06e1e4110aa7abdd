// The API key and the signing secret reach the secure store and the server, nothing else: a device records,
// flushes (one event refused), reads, follows the feed and meets a refused credential, and then every file it
// wrote (the queue with its WAL, the encrypted secrets file) and everything it printed (every event, status
// and error, in full) is searched for either value, raw, in base64, base64url and hex.
import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type DeviceServer, startDeviceServer, waitFor } from './helpers/server.js'

const sdkDir = new URL('../', import.meta.url).pathname
const SIGNING_SECRET = 'scan-signing-secret-5f1c9a7e2b4d'

function forms(secret: string): string[] {
  const bytes = Buffer.from(secret, 'utf8')
  return [
    secret,
    bytes.toString('base64'),
    bytes.toString('base64url'),
    bytes.toString('hex'),
    bytes.toString('hex').toUpperCase(),
    // A value that was base64-encoded at an offset shares most of its text with one of these three.
    Buffer.concat([Buffer.from('x'), bytes])
      .toString('base64')
      .slice(4, -4),
    Buffer.concat([Buffer.from('xy'), bytes])
      .toString('base64')
      .slice(4, -4),
  ]
}

describe('the credentials leave no trace outside the secure store', () => {
  let server: DeviceServer
  let dir: string

  beforeAll(async () => {
    server = await startDeviceServer({ signingSecret: SIGNING_SECRET })
    dir = mkdtempSync(join(tmpdir(), 'pos-sdk-scan-'))
  })
  afterAll(async () => {
    await server?.close()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('in no file the SDK wrote and in nothing it printed or emitted', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'test/fixtures/scan-device.ts', dir, server.url, server.source],
      {
        cwd: sdkDir,
        env: {
          NODE_ENV: 'test',
          PATH: process.env.PATH ?? '',
          SCAN_API_KEY: server.apiKey,
          SCAN_SIGNING_SECRET: SIGNING_SECRET,
          SCAN_PASSPHRASE: 'the-scan-passphrase',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    let stdout = ''
    let stderr = ''
    child.stdout!.on('data', (c: Buffer) => {
      stdout += c.toString('utf8')
    })
    child.stderr!.on('data', (c: Buffer) => {
      stderr += c.toString('utf8')
    })
    const exited = new Promise((resolve) => child.on('exit', resolve))
    try {
      await waitFor(
        () => {
          if (child.exitCode !== null) throw new Error(`the scan device exited: ${stderr}`)
          return stdout.includes('scan device ready')
        },
        { description: 'the scan device to finish its work', timeoutMs: 40_000 },
      )
      // What the device did is what the scan assumes: events flushed and one refused, a feed read, an AuthError.
      expect(stdout).toContain('event flushed { events: 19, replayed: false')
      expect(stdout).toContain('/problems/validation-failed')
      expect(stdout).toMatch(/^feed /m)
      expect(stdout).toContain('AuthError')
      expect(stderr).toContain('stderr is scanned too')

      const files = readdirSync(dir)
      expect(files).toEqual(expect.arrayContaining(['queue.db', 'queue.db-wal', 'secrets.json']))
      const haystacks: [string, string][] = [
        ...files.map((f): [string, string] => [f, readFileSync(join(dir, f)).toString('latin1')]),
        ['stdout', stdout],
        ['stderr', stderr],
      ]
      for (const secret of [server.apiKey, SIGNING_SECRET]) {
        for (const form of forms(secret)) {
          for (const [where, text] of haystacks) {
            expect(text.includes(form), `${where} holds a credential (as ${form.slice(0, 6)}…)`).toBe(false)
          }
        }
      }
    } finally {
      child.kill('SIGKILL')
      await exited
    }
  })
})
