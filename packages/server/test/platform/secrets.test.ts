import { randomBytes } from 'node:crypto'
import { sql } from 'drizzle-orm'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { runCli } from '../../src/cli/index.js'
import { ConfigError } from '../../src/config.js'
import { sourceSigningSecretAad, sources, tenants } from '../../src/db/schema.js'
import { type DatabaseHandle, openDatabase } from '../../src/platform/database.js'
import { createLogger } from '../../src/platform/logger.js'
import { migrate, readMigrations } from '../../src/platform/migrations.js'
import {
  checkStoredSecrets,
  keyIdOf,
  prepareStoredSecrets,
  reencryptStoredSecrets,
  SecretError,
  Secrets,
  storedKeyId,
} from '../../src/platform/secrets.js'
import { ADMIN_TOKEN, startTestApp, type TestApp } from '../helpers/app.js'
import { createTestDatabase, type TestDatabase } from '../helpers/database.js'
import { TEST_ENCRYPTION_KEY, testSecrets } from '../helpers/secrets.js'
import { freshServices } from '../helpers/tenants.js'

const AAD = 'source:00000000-0000-4000-8000-000000000001:signing'
const key = () => randomBytes(32)
const log = createLogger({ level: 'silent' })

/** The error a call throws, for assertions on it. */
function thrown(run: () => unknown): unknown {
  try {
    run()
  } catch (err) {
    return err
  }
  return expect.unreachable('it did not throw')
}

describe('Secrets', () => {
  const secrets = new Secrets(key())

  it('decrypts what it encrypted, stored as v1:<key id>:<nonce>:<ciphertext and tag>', () => {
    const stored = secrets.encrypt('a-signing-secret', AAD)
    expect(stored).toMatch(/^v1:[0-9a-f]{8}:[A-Za-z0-9+/]{16}:[A-Za-z0-9+/=]+$/)
    expect(storedKeyId(stored)).toBe(secrets.keyId)
    expect(stored).not.toContain('a-signing-secret')
    expect(secrets.decrypt(stored, AAD)).toBe('a-signing-secret')
    expect(secrets.decrypt(secrets.encrypt('', AAD), AAD)).toBe('')
  })

  it('uses a fresh nonce for every encryption', () => {
    const nonces = new Set(Array.from({ length: 100 }, () => secrets.encrypt('same', AAD).split(':')[2]))
    expect(nonces.size).toBe(100)
  })

  it('refuses a value that was altered anywhere', () => {
    const stored = secrets.encrypt('a-signing-secret', AAD)
    const [format, keyId, nonce, sealed] = stored.split(':') as [string, string, string, string]
    const flip = (b64: string, at: number) => {
      const bytes = Buffer.from(b64, 'base64')
      bytes[at] = (bytes[at] ?? 0) ^ 1
      return bytes.toString('base64')
    }
    for (const altered of [
      [format, keyId, flip(nonce, 0), sealed],
      [format, keyId, nonce, flip(sealed, 0)],
      [format, keyId, nonce, flip(sealed, Buffer.from(sealed, 'base64').length - 1)],
    ]) {
      expect(thrown(() => secrets.decrypt(altered.join(':'), AAD))).toMatchObject({
        name: 'SecretError',
        reason: 'undecryptable',
      })
    }
    expect(thrown(() => secrets.decrypt(`${stored.slice(0, -8)}`, AAD))).toBeInstanceOf(SecretError)
    expect(thrown(() => secrets.decrypt('a-signing-secret', AAD))).toMatchObject({ reason: 'malformed' })
    expect(thrown(() => secrets.decrypt(stored.replace(keyId, 'ffffffff'), AAD))).toMatchObject({
      reason: 'unknown-key',
    })
  })

  it('refuses a value moved to another row or purpose', () => {
    const stored = secrets.encrypt('a-signing-secret', AAD)
    const other = 'source:00000000-0000-4000-8000-000000000002:signing'
    const err = thrown(() => secrets.decrypt(stored, other))
    expect(err).toMatchObject({ reason: 'undecryptable' })
    // The message names the binding and the key id, never the value or the secret.
    expect((err as Error).message).not.toContain('a-signing-secret')
    expect((err as Error).message).not.toContain(stored.split(':')[3])
  })

  it('decrypts with the previous key, encrypts with the current one, and re-encrypts to it', () => {
    const oldKey = key()
    const old = new Secrets(oldKey)
    const stored = old.encrypt('a-signing-secret', AAD)
    const rotated = new Secrets(key(), oldKey)
    expect(rotated.previousKeyId).toBe(old.keyId)
    expect(rotated.decrypt(stored, AAD)).toBe('a-signing-secret')
    expect(storedKeyId(rotated.encrypt('x', AAD))).toBe(rotated.keyId)
    const moved = rotated.reencrypt(stored, AAD)
    expect(storedKeyId(moved)).toBe(rotated.keyId)
    expect(rotated.decrypt(moved, AAD)).toBe('a-signing-secret')
    expect(rotated.reencrypt(moved, AAD)).toBe(moved)
  })

  it('names keys by a hash of them, and never shows a key', () => {
    const k = key()
    expect(keyIdOf(k)).toMatch(/^[0-9a-f]{8}$/)
    expect(new Secrets(k).keyId).toBe(keyIdOf(k))
    expect(JSON.stringify(new Secrets(k, key()))).not.toContain(k.toString('base64').slice(0, 10))
  })
})

describe('secrets stored by the service', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await startTestApp()
  })
  afterAll(async () => {
    await t.close()
  })

  async function admin(method: string, url: string, payload?: object) {
    const res = await t.app.inject({
      method: method as 'POST',
      url,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      ...(payload && { payload }),
    })
    expect(res.statusCode, res.body).toBeLessThan(300)
    return res.body === '' ? undefined : res.json()
  }

  /** Every row of `sources` as the text of all its columns. */
  async function rawSources(): Promise<string> {
    const { rows } = await t.platform.database.db.execute<{ row: string }>(
      sql`SELECT to_jsonb(s)::text AS row FROM sources s`,
    )
    return rows.map((r) => r.row).join('\n')
  }

  it('are nowhere in clear in the sources table, after creation and rotation', async () => {
    const first = `first-${randomBytes(12).toString('hex')}`
    const second = `second-${randomBytes(12).toString('hex')}`
    const tenant = await admin('POST', '/v1/admin/tenants', { name: 'Raw' })
    const source = await admin('POST', `/v1/admin/tenants/${tenant.id}/sources`, {
      name: 'till',
      kind: 'sdk',
      signingSecret: first,
    })
    await admin('POST', `/v1/admin/tenants/${tenant.id}/sources/${source.id}/rotate-secret`, {
      signingSecret: second,
    })
    const raw = await rawSources()
    expect(raw).toContain(source.id)
    expect(raw).toContain(`v1:${testSecrets.keyId}:`)
    for (const secret of [first, second]) {
      expect(raw).not.toContain(secret)
      expect(raw).not.toContain(Buffer.from(secret).toString('base64'))
      expect(raw).not.toContain(Buffer.from(secret).toString('hex'))
    }
    // The service reads them back in clear, newest first.
    const found = await freshServices(t.platform.database.db).sources.findSource(tenant.id, 'till')
    expect(found?.signingSecrets).toEqual([second, first])
  })

  it('a value copied to another source does not decrypt there', async () => {
    const tenant = await admin('POST', '/v1/admin/tenants', { name: 'Copy' })
    const base = `/v1/admin/tenants/${tenant.id}/sources`
    const a = await admin('POST', base, { name: 'a', kind: 'sdk', signingSecret: 'secret-of-source-a' })
    const b = await admin('POST', base, { name: 'b', kind: 'sdk', signingSecret: 'secret-of-source-b' })
    const { db } = t.platform.database
    await db.execute(
      sql`UPDATE sources SET encrypted_signing_secrets = (SELECT encrypted_signing_secrets FROM sources WHERE id = ${a.id}) WHERE id = ${b.id}`,
    )
    await expect(freshServices(db).sources.findSource(tenant.id, 'b')).rejects.toThrow(SecretError)
    await admin('DELETE', `${base}/${b.id}`)
  })

  it('move to a new key with the old one as previous; the wrong key is refused', async () => {
    const { db } = t.platform.database
    const newKey = key()
    const rotated = new Secrets(newKey, Buffer.from(TEST_ENCRYPTION_KEY, 'base64'))
    await expect(checkStoredSecrets(db, new Secrets(newKey))).rejects.toThrow(
      new RegExp(`ENCRYPTION_KEY does not decrypt the stored secrets \\(.* key id ${testSecrets.keyId};`),
    )
    await checkStoredSecrets(db, rotated)

    const { rows } = await db.execute<{ values: number }>(
      sql`SELECT sum(cardinality(encrypted_signing_secrets))::int AS values FROM sources`,
    )
    const values = rows[0]?.values ?? 0
    expect(values).toBeGreaterThanOrEqual(3)
    expect(await reencryptStoredSecrets(db, rotated)).toEqual({ reencrypted: values, unchanged: 0 })
    expect(await reencryptStoredSecrets(db, rotated)).toEqual({ reencrypted: 0, unchanged: values })
    const raw = await rawSources()
    expect(raw).not.toContain(`v1:${testSecrets.keyId}:`)
    expect(raw).toContain(`v1:${rotated.keyId}:`)
    // The new key alone now decrypts everything; the old one alone does not.
    await checkStoredSecrets(db, new Secrets(newKey))
    const tenantId = (await db.select({ id: tenants.id }).from(tenants).where(sql`name = 'Raw'`))[0]?.id ?? ''
    const found = await freshServices(db, new Secrets(newKey)).sources.findSource(tenantId, 'till')
    expect(found?.signingSecrets).toHaveLength(2)
    await expect(checkStoredSecrets(db, testSecrets)).rejects.toThrow(ConfigError)

    // And back, through the CLI, as an operator would.
    const cli = async () => {
      let stdout = ''
      let stderr = ''
      const code = await runCli(['secrets:reencrypt'], {
        env: {
          DATABASE_URL: t.config.databaseUrl,
          ENCRYPTION_KEY: TEST_ENCRYPTION_KEY,
          ENCRYPTION_KEY_PREVIOUS: newKey.toString('base64'),
        },
        stdout: (text) => {
          stdout += text
        },
        stderr: (text) => {
          stderr += text
        },
      })
      return { code, stdout, stderr }
    }
    expect(await cli()).toEqual({
      code: 0,
      stdout: `Re-encrypted ${values} stored secret value(s) under key id ${testSecrets.keyId}; 0 already were.\n`,
      stderr: '',
    })
    expect((await cli()).stdout).toBe(
      `Re-encrypted 0 stored secret value(s) under key id ${testSecrets.keyId}; ${values} already were.\n`,
    )
    await checkStoredSecrets(db, testSecrets)
  })
})

describe('secrets stored in clear by the previous version', () => {
  let database: TestDatabase
  let handle: DatabaseHandle
  beforeEach(async () => {
    database = await createTestDatabase()
    handle = await openDatabase({ databaseUrl: database.url, dataDir: '', log })
  })
  afterEach(async () => {
    await handle.close()
    await database.drop()
  })

  it('are encrypted at start-up after the migration, and the clear column emptied, once', async () => {
    const { db } = handle
    const [before] = readMigrations()
    await migrate(db, [before!])
    const { rows } = await db.execute<{ tenant: string; source: string }>(sql`
      WITH t AS (INSERT INTO tenants (name) VALUES ('Old') RETURNING id)
      INSERT INTO sources (tenant_id, name, kind, signing_secrets)
      SELECT id, s.name, 'sdk', s.secrets FROM t,
        (VALUES ('signed', ARRAY['old-secret-new', 'old-secret-old']), ('plain', '{}'::text[])) AS s(name, secrets)
      RETURNING tenant_id::text AS tenant, id::text AS source`)
    const tenantId = rows[0]!.tenant

    await migrate(db)
    await prepareStoredSecrets(db, testSecrets, log)
    const stored = await db
      .select({
        id: sources.id,
        name: sources.name,
        plaintext: sources.plaintextSigningSecrets,
        encrypted: sources.encryptedSigningSecrets,
      })
      .from(sources)
    const signed = stored.find((s) => s.name === 'signed')!
    expect(signed.plaintext).toEqual([])
    expect(signed.encrypted.map((v) => testSecrets.decrypt(v, sourceSigningSecretAad(signed.id)))).toEqual([
      'old-secret-new',
      'old-secret-old',
    ])
    expect(stored.find((s) => s.name === 'plain')).toMatchObject({ plaintext: [], encrypted: [] })
    const found = await freshServices(db).sources.findSource(tenantId, 'signed')
    expect(found?.signingSecrets).toEqual(['old-secret-new', 'old-secret-old'])

    // A second start changes nothing.
    await prepareStoredSecrets(db, testSecrets, log)
    const again = await db.select({ encrypted: sources.encryptedSigningSecrets }).from(sources)
    expect(again.map((r) => r.encrypted)).toEqual(stored.map((r) => r.encrypted))
  })
})
