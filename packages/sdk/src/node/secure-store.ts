// Where a Node device keeps its credentials: the operating system's keychain (macOS Keychain, Windows
// Credential Manager, the Secret Service on a Linux desktop) through @napi-rs/keyring. A machine without one
// (a headless Linux box has no Secret Service) is refused, unless the app explicitly chooses an encrypted file
// with a passphrase it supplies: scrypt derives the key, AES-256-GCM seals every value, the file is mode 0600
// and replaced atomically (temp file, fsync, rename, fsync of the directory).
import { createCipheriv, createDecipheriv, randomBytes, scrypt as scryptCallback } from 'node:crypto'
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { Entry } from '@napi-rs/keyring'
import type { SecureStore } from '../core/ports.js'

export interface NodeSecureStoreOptions {
  /** The keychain service name the entries are kept under; one per app. */
  readonly service?: string
  /**
   * Keep the credentials in this encrypted file instead of the keychain. Only for machines without one:
   * whoever has the file and the passphrase has the credentials, so the passphrase must not live beside it.
   */
  readonly encryptedFile?: { readonly path: string; readonly passphrase: string }
}

/** There is no keychain here and the app did not choose the encrypted file. */
export class KeychainUnavailableError extends Error {
  override readonly name = 'KeychainUnavailableError'
}

export async function openNodeSecureStore(options: NodeSecureStoreOptions = {}): Promise<SecureStore> {
  if (options.encryptedFile !== undefined) {
    return openEncryptedFileSecureStore(options.encryptedFile.path, options.encryptedFile.passphrase)
  }
  const service = options.service ?? 'pos-sdk'
  const reason = keychainUnavailable(service)
  if (reason !== undefined) {
    throw new KeychainUnavailableError(
      `No operating system keychain is available (${reason}). Credentials are never kept in plain files: ` +
        'run where a keychain is (on Linux, a Secret Service over D-Bus) or pass ' +
        '{ encryptedFile: { path, passphrase } } to keep them in a file encrypted with a passphrase you supply.',
    )
  }
  return keychainSecureStore(service)
}

// On Linux only the Secret Service counts as a keychain: the library's fallback, the kernel keyring, forgets
// everything at a reboot (a device would lose its credentials) and is readable by every process of the session.
const ENTRY_OPTIONS = { linux: { store: 'secret-service' } } as const

/** Why the keychain cannot be used, or undefined when it can. */
export function keychainUnavailable(service = 'pos-sdk'): string | undefined {
  try {
    new Entry(service, '__probe__', ENTRY_OPTIONS).getPassword()
    return undefined
  } catch (error) {
    return (error as Error).message
  }
}

function keychainSecureStore(service: string): SecureStore {
  const entry = (name: string) => new Entry(service, name, ENTRY_OPTIONS)
  return {
    async get(name) {
      return entry(name).getPassword() ?? undefined
    },
    async set(name, value) {
      entry(name).setPassword(value)
    },
    async delete(name) {
      entry(name).deletePassword()
    },
  }
}

// scrypt at N=2^15, r=8: about 32 MiB and a tenth of a second, once when the store opens.
const KDF = { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const

interface SealedFile {
  readonly version: 1
  readonly kdf: { readonly name: 'scrypt'; readonly N: number; readonly r: number; readonly p: number }
  readonly salt: string
  readonly iv: string
  readonly tag: string
  readonly data: string
}

function deriveKey(
  passphrase: string,
  salt: Buffer,
  kdf: { N: number; r: number; p: number },
): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scryptCallback(passphrase, salt, 32, { ...kdf, maxmem: KDF.maxmem }, (error, key) =>
      error ? reject(error) : resolve(key),
    ),
  )
}

function readSealed(path: string): SealedFile | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as SealedFile
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new Error(`The secrets file is not readable: ${(error as Error).message}`)
  }
}

/** Writes the file whole or not at all: a crash leaves the old file or the new one. */
function writeAtomically(path: string, content: string): void {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`)
  const fd = openSync(temp, 'w', 0o600)
  try {
    writeFileSync(fd, content)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(temp, path)
  const dir = openSync(dirname(path), 'r')
  try {
    fsyncSync(dir)
  } finally {
    closeSync(dir)
  }
}

export async function openEncryptedFileSecureStore(path: string, passphrase: string): Promise<SecureStore> {
  if (passphrase.length < 12)
    throw new Error('The passphrase of the secrets file must have at least 12 characters')
  const existing = readSealed(path)
  const salt = existing === undefined ? randomBytes(16) : Buffer.from(existing.salt, 'base64')
  const kdf = existing?.kdf ?? { name: 'scrypt' as const, N: KDF.N, r: KDF.r, p: KDF.p }
  const key = await deriveKey(passphrase, salt, kdf)
  let values: Record<string, string> = {}
  if (existing !== undefined) {
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(existing.iv, 'base64'))
      decipher.setAuthTag(Buffer.from(existing.tag, 'base64'))
      const plain = Buffer.concat([decipher.update(Buffer.from(existing.data, 'base64')), decipher.final()])
      values = JSON.parse(plain.toString('utf8')) as Record<string, string>
    } catch {
      throw new Error('The secrets file cannot be opened: wrong passphrase, or the file was changed')
    }
  }

  function persist(): void {
    const iv = randomBytes(12)
    const cipher = createCipheriv('aes-256-gcm', key, iv)
    const data = Buffer.concat([cipher.update(JSON.stringify(values), 'utf8'), cipher.final()])
    const sealed: SealedFile = {
      version: 1,
      kdf,
      salt: salt.toString('base64'),
      iv: iv.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
      data: data.toString('base64'),
    }
    writeAtomically(path, JSON.stringify(sealed))
  }

  return {
    async get(name) {
      return Object.hasOwn(values, name) ? values[name] : undefined
    },
    async set(name, value) {
      values = { ...values, [name]: value }
      persist()
    },
    async delete(name) {
      if (!Object.hasOwn(values, name)) return
      const { [name]: _removed, ...rest } = values
      values = rest
      persist()
    },
  }
}
