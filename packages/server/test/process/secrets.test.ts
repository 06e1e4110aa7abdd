import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { openDatabase } from '../../src/platform/database.js'
import { createLogger } from '../../src/platform/logger.js'
import { migrate } from '../../src/platform/migrations.js'
import { EMBEDDED_KEY_FILE, keyIdOf } from '../../src/platform/secrets.js'
import { ADMIN_TOKEN } from '../helpers/app.js'
import { createTestDatabase } from '../helpers/database.js'
import { TEST_ENCRYPTION_KEY, testSecrets } from '../helpers/secrets.js'
import { type ServerProcess, startServerProcess } from '../helpers/server-process.js'
import { createTenant } from '../helpers/tenants.js'

const WRONG_KEY = /ENCRYPTION_KEY does not decrypt the stored secrets/
// Each test starts several servers one after another; on a loaded machine each start takes a while.
const START_MS = 120_000
const TEST_MS = 4 * START_MS

describe('the encryption key at start-up', () => {
  const servers: ServerProcess[] = []
  const start = (env: Record<string, string>) => {
    const server = startServerProcess({ ADMIN_TOKEN, SHUTDOWN_READINESS_DELAY_MS: '0', ...env })
    servers.push(server)
    return server
  }
  const started = (server: ServerProcess) =>
    server.waitForLine((l) => l.msg === 'start-up complete', START_MS)
  afterEach(() => {
    for (const server of servers.splice(0)) server.kill()
  })

  it(
    'a wrong ENCRYPTION_KEY stops the server with exit 1 and says why; the old key as previous starts it',
    async () => {
      const database = await createTestDatabase()
      try {
        const handle = await openDatabase({
          databaseUrl: database.url,
          dataDir: '',
          log: createLogger({ level: 'silent' }),
        })
        await migrate(handle.db)
        await createTenant(handle.db, { signingSecrets: ['a-signing-secret-stored'] })
        await handle.close()

        const newKey = randomBytes(32).toString('base64')
        const wrong = start({ DATABASE_URL: database.url, ENCRYPTION_KEY: newKey })
        expect(await wrong.exited).toBe(1)
        expect(wrong.stderr()).toMatch(WRONG_KEY)
        expect(wrong.stderr()).toContain(`key id ${testSecrets.keyId}`)
        expect(wrong.stderr()).toContain('ENCRYPTION_KEY_PREVIOUS')
        expect(wrong.stderr()).not.toContain(newKey)
        expect(wrong.stderr()).not.toMatch(/\n\s+at /)
        expect(JSON.stringify(wrong.lines)).not.toContain(newKey)

        const rotating = start({
          DATABASE_URL: database.url,
          ENCRYPTION_KEY: newKey,
          ENCRYPTION_KEY_PREVIOUS: TEST_ENCRYPTION_KEY,
        })
        await started(rotating)
        expect(JSON.stringify(rotating.lines)).not.toContain(newKey)
        expect(JSON.stringify(rotating.lines)).not.toContain(TEST_ENCRYPTION_KEY)
        rotating.child.kill('SIGTERM')
        expect(await rotating.exited).toBe(0)
      } finally {
        await database.drop()
      }
    },
    TEST_MS,
  )

  it(
    'embedded mode generates a key file of mode 0600 once and reuses it; without it, start-up fails',
    async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'pos-secrets-'))
      const keyFile = join(dataDir, EMBEDDED_KEY_FILE)
      const first = start({ DATA_DIR: dataDir })
      const listening = await first.waitForLine((l) => typeof l.address === 'string', START_MS)
      const url = String(listening.address)
      await started(first)
      expect(statSync(keyFile).mode & 0o777).toBe(0o600)
      const key = readFileSync(keyFile, 'utf8').trim()
      expect(Buffer.from(key, 'base64')).toHaveLength(32)
      const keyId = keyIdOf(Buffer.from(key, 'base64'))

      // A signed source, so that the next start has something to decrypt.
      const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }
      const tenants = (await (await fetch(`${url}/v1/admin/tenants`, { headers: admin })).json()) as {
        data: { id: string }[]
      }
      const res = await fetch(`${url}/v1/admin/tenants/${tenants.data[0]?.id}/sources`, {
        method: 'POST',
        headers: admin,
        body: JSON.stringify({ name: 'signed', kind: 'sdk', signingSecret: 'an-embedded-signing-secret' }),
      })
      expect(res.status).toBe(201)
      first.child.kill('SIGTERM')
      expect(await first.exited).toBe(0)
      expect(JSON.stringify(first.lines)).not.toContain(key)

      const second = start({ DATA_DIR: dataDir })
      const checked = await second.waitForLine(
        (l) => l.msg === 'the encryption key decrypts the stored secrets',
        START_MS,
      )
      expect(checked.keyId).toBe(keyId)
      await started(second)
      expect(readFileSync(keyFile, 'utf8').trim()).toBe(key)
      second.child.kill('SIGTERM')
      expect(await second.exited).toBe(0)

      // A lost key file means a new key, which does not decrypt what is stored: refused, not garbage.
      rmSync(keyFile)
      const third = start({ DATA_DIR: dataDir })
      expect(await third.exited).toBe(1)
      expect(third.stderr()).toMatch(WRONG_KEY)
      expect(third.stderr()).toContain(`key id ${keyId}`)
    },
    TEST_MS,
  )
})
