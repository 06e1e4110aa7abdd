// Secrets at rest. Every secret the service must read back (signing secrets; later provider tokens and webhook
// secrets; never API keys, which are only hashed) is stored encrypted with AES-256-GCM under ENCRYPTION_KEY, as
// one text value `v1:<key id>:<nonce>:<ciphertext and tag>` (base64). The key id names the key, so keys can
// rotate: ENCRYPTION_KEY_PREVIOUS still decrypts, and `secrets:reencrypt` moves every value to the current key.
// Each value is bound to its row and purpose by the additional data (`aad`, e.g. `source:<id>:signing`): a
// value copied to another row does not decrypt. The columns that hold such values are listed in
// db/schema.ts (SEALED_COLUMNS); start-up checks the key against them before anything reads one.
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { eq, isNotNull, sql } from 'drizzle-orm'
import { PgArray } from 'drizzle-orm/pg-core'
import type { Logger } from 'pino'
import { type Config, ConfigError } from '../config.js'
import { SEALED_COLUMNS, type SealedColumn } from '../db/schema.js'
import type { Database } from './database.js'
import { timedQuery } from './metrics.js'

const FORMAT = 'v1'
const KEY_BYTES = 32
const NONCE_BYTES = 12
const TAG_BYTES = 16
/** Where embedded mode keeps the key it generated, inside DATA_DIR. */
export const EMBEDDED_KEY_FILE = 'encryption.key'

/** Why a stored value could not be decrypted; the message never holds the value or the key. */
export class SecretError extends Error {
  constructor(
    readonly reason: 'malformed' | 'unknown-key' | 'undecryptable',
    message: string,
  ) {
    super(message)
    this.name = 'SecretError'
  }
}

/** The public name of a key: 8 hex digits of a hash of it, under a label of its own (not a MAC of anything). */
export function keyIdOf(key: Buffer): string {
  return createHash('sha256').update('pos-secrets key id\0').update(key).digest('hex').slice(0, 8)
}

/** The key id a stored value names; throws SecretError when the value is not in the stored format. */
export function storedKeyId(stored: string): string {
  return parse(stored).keyId
}

interface Parsed {
  readonly keyId: string
  readonly nonce: Buffer
  readonly sealed: Buffer
}

function parse(stored: string): Parsed {
  const [format, keyId, nonce, sealed, ...rest] = stored.split(':')
  if (format !== FORMAT || keyId === undefined || !/^[0-9a-f]{8}$/.test(keyId) || rest.length > 0) {
    throw new SecretError('malformed', 'the stored value is not an encrypted secret (v1:<key id>:…)')
  }
  const nonceBytes = Buffer.from(nonce ?? '', 'base64')
  const sealedBytes = Buffer.from(sealed ?? '', 'base64')
  if (nonceBytes.length !== NONCE_BYTES || sealedBytes.length < TAG_BYTES) {
    throw new SecretError('malformed', `the stored value under key id ${keyId} is truncated`)
  }
  return { keyId, nonce: nonceBytes, sealed: sealedBytes }
}

/** The additional data GCM authenticates: the caller's binding, and the header, so neither can be swapped. */
function additionalData(keyId: string, aad: string): Buffer {
  return Buffer.from(`${FORMAT}:${keyId}:${aad}`, 'utf8')
}

/** Encrypts and decrypts secrets; holds the current key and, during a rotation, the previous one. */
export class Secrets {
  /** The id of the key new values are encrypted under. */
  readonly keyId: string
  readonly previousKeyId: string | undefined
  readonly #keys = new Map<string, Buffer>()

  constructor(current: Buffer, previous?: Buffer) {
    for (const key of [current, previous]) {
      if (key !== undefined && key.length !== KEY_BYTES) throw new Error(`a key must be ${KEY_BYTES} bytes`)
    }
    this.keyId = keyIdOf(current)
    this.#keys.set(this.keyId, current)
    this.previousKeyId = previous === undefined ? undefined : keyIdOf(previous)
    if (previous !== undefined && this.previousKeyId !== undefined)
      this.#keys.set(this.previousKeyId, previous)
  }

  /** Whether a value under this key id can be decrypted. */
  holds(keyId: string): boolean {
    return this.#keys.has(keyId)
  }

  /** The stored form of the plaintext, under the current key, with a fresh random nonce. */
  encrypt(plaintext: string, aad: string): string {
    const nonce = randomBytes(NONCE_BYTES)
    const cipher = createCipheriv('aes-256-gcm', this.#keys.get(this.keyId) as Buffer, nonce)
    cipher.setAAD(additionalData(this.keyId, aad))
    const sealed = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()])
    return `${FORMAT}:${this.keyId}:${nonce.toString('base64')}:${sealed.toString('base64')}`
  }

  /** The plaintext of a stored value; throws SecretError when it was altered, moved, or its key is not held. */
  decrypt(stored: string, aad: string): string {
    const { keyId, nonce, sealed } = parse(stored)
    const key = this.#keys.get(keyId)
    if (key === undefined) {
      throw new SecretError(
        'unknown-key',
        `the stored value is under key id ${keyId}, which is not configured`,
      )
    }
    const decipher = createDecipheriv('aes-256-gcm', key, nonce)
    decipher.setAAD(additionalData(keyId, aad))
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES))
    try {
      return Buffer.concat([
        decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)),
        decipher.final(),
      ]).toString('utf8')
    } catch {
      throw new SecretError(
        'undecryptable',
        `the stored value under key id ${keyId} does not decrypt for ${aad}: it was altered or belongs elsewhere`,
      )
    }
  }

  /** The value under the current key: itself when it is already, else decrypted and encrypted again. */
  reencrypt(stored: string, aad: string): string {
    return storedKeyId(stored) === this.keyId ? stored : this.encrypt(this.decrypt(stored, aad), aad)
  }

  /**
   * Keys for another use than secrets at rest (`purpose`, e.g. `cursors`), derived with HKDF-SHA256 from each
   * key held, the current one first: independent of the keys themselves and of each other's purposes.
   */
  deriveKeys(purpose: string): Buffer[] {
    const ids = [this.keyId, ...(this.previousKeyId === undefined ? [] : [this.previousKeyId])]
    return ids.map((id) =>
      Buffer.from(
        hkdfSync('sha256', this.#keys.get(id) as Buffer, '', `pos-integration-service:${purpose}`, KEY_BYTES),
      ),
    )
  }

  toJSON(): Record<string, string | undefined> {
    return { keyId: this.keyId, previousKeyId: this.previousKeyId }
  }
}

function decodeKey(text: string, where: string): Buffer {
  const key = Buffer.from(text.trim(), 'base64')
  // config.ts checked the variables; a key file may hold anything.
  if (key.length !== KEY_BYTES) throw new ConfigError([`${where} must hold 32 bytes in base64`])
  return key
}

/**
 * The keys of this process: ENCRYPTION_KEY (and ENCRYPTION_KEY_PREVIOUS) when set; in embedded mode without
 * one, the key in DATA_DIR/encryption.key, generated (mode 0600) on the first start and reused afterwards.
 */
export function loadSecrets(
  config: Pick<Config, 'encryptionKey' | 'encryptionKeyPrevious' | 'databaseUrl' | 'dataDir'>,
): Secrets {
  const previous =
    config.encryptionKeyPrevious === undefined
      ? undefined
      : decodeKey(config.encryptionKeyPrevious, 'ENCRYPTION_KEY_PREVIOUS')
  if (config.encryptionKey !== undefined) {
    return new Secrets(decodeKey(config.encryptionKey, 'ENCRYPTION_KEY'), previous)
  }
  if (config.databaseUrl !== undefined)
    throw new ConfigError(['ENCRYPTION_KEY is required with DATABASE_URL'])
  return new Secrets(embeddedKey(config.dataDir), previous)
}

function embeddedKey(dataDir: string): Buffer {
  const path = join(dataDir, EMBEDDED_KEY_FILE)
  mkdirSync(dataDir, { recursive: true })
  try {
    // `wx`: two processes starting at once never overwrite each other's key; the second one reads it below.
    writeFileSync(path, `${randomBytes(KEY_BYTES).toString('base64')}\n`, { mode: 0o600, flag: 'wx' })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  }
  return decodeKey(readFileSync(path, 'utf8'), `the key file ${path}`)
}

/** The values of one row of a sealed column, whether it holds one secret or a list. */
function valuesOf(value: unknown): string[] {
  if (value === null || value === undefined) return []
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value
  if (typeof value === 'string') return [value]
  throw new Error('a sealed column holds something other than text')
}

interface SealedRow {
  readonly id: string
  readonly values: readonly string[]
}

async function sealedRows(
  db: Pick<Database, 'select'>,
  column: SealedColumn,
  lock: boolean,
): Promise<SealedRow[]> {
  // Only rows that hold a value are read (and locked): a start-up with nothing left in clear locks nothing.
  const holdsValue =
    column.column instanceof PgArray ? sql`cardinality(${column.column}) > 0` : isNotNull(column.column)
  const query = db.select({ id: column.id, value: column.column }).from(column.table).where(holdsValue)
  const rows = await (lock ? query.for('update') : query)
  return rows
    .map((row) => ({ id: String(row.id), values: valuesOf(row.value) }))
    .filter((row) => row.values.length > 0)
}

async function writeSealed(
  db: Pick<Database, 'execute'>,
  column: SealedColumn,
  id: string,
  values: readonly string[],
  clearPlaintext: boolean,
): Promise<void> {
  const isList = column.column instanceof PgArray
  const value = sql.param(isList ? [...values] : (values[0] ?? null), column.column)
  const clear =
    clearPlaintext && column.plaintext
      ? sql`, ${sql.identifier(column.plaintext.name)} = ${sql.param(column.plaintext instanceof PgArray ? [] : null, column.plaintext)}`
      : sql``
  await db.execute(
    sql`UPDATE ${column.table} SET ${sql.identifier(column.column.name)} = ${value}${clear} WHERE ${eq(column.id, id)}`,
  )
}

function wrongKey(secrets: Secrets, keyId: string, where: string): ConfigError {
  const configured = [secrets.keyId, secrets.previousKeyId].filter((id) => id !== undefined).join(', ')
  return new ConfigError([
    `ENCRYPTION_KEY does not decrypt the stored secrets (${where} is under key id ${keyId}; the configured ` +
      `keys have id ${configured}). Set ENCRYPTION_KEY to the key they were stored with, or, to move to a new ` +
      'key, keep the old one in ENCRYPTION_KEY_PREVIOUS and run `npm run cli -- secrets:reencrypt`.',
  ])
}

/**
 * Refuses a key that does not decrypt what is stored, with a ConfigError that says what to do: every key id in
 * use must be one this process holds, and one value of each must decrypt. Reads every sealed value's header;
 * the tables that hold secrets are small.
 */
export async function checkStoredSecrets(db: Database, secrets: Secrets): Promise<void> {
  for (const column of SEALED_COLUMNS) {
    const rows = await timedQuery('secrets.check', () => sealedRows(db, column, false))
    const samples = new Map<string, SealedRow & { value: string }>()
    for (const row of rows) {
      for (const value of row.values) {
        let keyId: string
        try {
          keyId = storedKeyId(value)
        } catch (err) {
          throw new ConfigError([`${column.name} of row ${row.id}: ${(err as Error).message}`])
        }
        if (!samples.has(keyId)) samples.set(keyId, { ...row, value })
      }
    }
    for (const [keyId, sample] of samples) {
      const where = `${column.name} of row ${sample.id}`
      if (!secrets.holds(keyId)) throw wrongKey(secrets, keyId, where)
      try {
        secrets.decrypt(sample.value, column.aad(sample.id))
      } catch (err) {
        if (!(err instanceof SecretError)) throw err
        throw new ConfigError([`${where}: ${err.message}`])
      }
    }
  }
}

/**
 * Encrypts the secrets still stored in clear (columns kept by a migration that introduced encryption, see
 * SealedColumn.plaintext) and empties those columns, in one transaction per column. Idempotent: the second
 * run finds nothing. Returns how many values it encrypted.
 */
export async function encryptPlaintextSecrets(db: Database, secrets: Secrets): Promise<number> {
  let encrypted = 0
  for (const column of SEALED_COLUMNS) {
    const plaintext = column.plaintext
    if (plaintext === undefined) continue
    encrypted += await timedQuery('secrets.encryptPlaintext', () =>
      db.transaction(async (tx) => {
        const rows = await sealedRows(tx, { ...column, column: plaintext }, true)
        for (const row of rows) {
          // What is left in clear was written by the previous version: it is the row's current state, and
          // replaces whatever the encrypted column holds.
          const values = row.values.map((value) => secrets.encrypt(value, column.aad(row.id)))
          await writeSealed(tx, column, row.id, values, true)
        }
        return rows.reduce((sum, row) => sum + row.values.length, 0)
      }),
    )
  }
  return encrypted
}

export interface ReencryptResult {
  /** Values that were under another key and are now under the current one. */
  readonly reencrypted: number
  /** Values that were under the current key already. */
  readonly unchanged: number
}

/**
 * Moves every stored secret to the current key, one transaction per column, with its rows locked so that a
 * concurrent rotation is neither lost nor overwritten. Safe to run again: values under the current key stay.
 */
export async function reencryptStoredSecrets(db: Database, secrets: Secrets): Promise<ReencryptResult> {
  let reencrypted = 0
  let unchanged = 0
  for (const column of SEALED_COLUMNS) {
    await timedQuery('secrets.reencrypt', () =>
      db.transaction(async (tx) => {
        for (const row of await sealedRows(tx, column, true)) {
          const moved = row.values.filter((value) => storedKeyId(value) !== secrets.keyId).length
          unchanged += row.values.length - moved
          if (moved === 0) continue
          const values = row.values.map((value) => secrets.reencrypt(value, column.aad(row.id)))
          await writeSealed(tx, column, row.id, values, false)
          reencrypted += moved
        }
      }),
    )
  }
  return { reencrypted, unchanged }
}

/**
 * The start-up step: the key must decrypt what is stored (else a ConfigError, which stops the process), then
 * the secrets a previous version stored in clear are encrypted. Runs after the migrations.
 */
export async function prepareStoredSecrets(db: Database, secrets: Secrets, log: Logger): Promise<void> {
  await checkStoredSecrets(db, secrets)
  const encrypted = await encryptPlaintextSecrets(db, secrets)
  log.info(
    { keyId: secrets.keyId, previousKeyId: secrets.previousKeyId, encryptedFromPlaintext: encrypted },
    encrypted > 0
      ? 'secrets stored in clear were encrypted'
      : 'the encryption key decrypts the stored secrets',
  )
}
