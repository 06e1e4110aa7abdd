// The React Native SecureStore on expo-secure-store: the iOS Keychain and, on Android, values encrypted with a
// key held in the Android Keystore. Two limits of that module shape this adapter: keys may only hold letters,
// digits, '.', '-' and '_', so each name is mapped to such a key one-to-one; and some iOS versions reject values
// over 2048 bytes, so larger values are refused here on every platform instead of failing on some devices only.
//
// This file only imports expo-secure-store's types; `index.ts` passes in the real module.
import type { KeychainAccessibilityConstant, SecureStoreOptions } from 'expo-secure-store'
import type { SecureStore } from '../core/ports.js'

/** The part of expo-secure-store this adapter uses. */
export interface SecureStoreModule {
  getItemAsync(key: string, options?: SecureStoreOptions): Promise<string | null>
  setItemAsync(key: string, value: string, options?: SecureStoreOptions): Promise<void>
  deleteItemAsync(key: string, options?: SecureStoreOptions): Promise<void>
}

export interface ExpoSecureStoreOptions {
  /** Prepended to every key, so the SDK's entries never collide with the app's own; default `pos-sdk`. */
  readonly prefix?: string
  /**
   * When the Keychain lets the SDK read its credentials (iOS). The default the app passes from
   * expo-secure-store should let a background flush run after a restart: AFTER_FIRST_UNLOCK_THIS_DEVICE_ONLY.
   */
  readonly keychainAccessible?: KeychainAccessibilityConstant
  /** The Keychain service (iOS) or the SharedPreferences file (Android) to keep the entries in. */
  readonly keychainService?: string
}

/** The most expo-secure-store takes on every platform. */
export const MAX_VALUE_BYTES = 2048

const KEY_CHARACTERS = /^[A-Za-z0-9._-]+$/

/**
 * The expo-secure-store key of a name: letters, digits, '.' and '-' stay, every other character (including
 * '_', the escape itself) becomes '_' and four hex digits, so two names never share a key.
 */
export function secureStoreKey(prefix: string, name: string): string {
  let key = `${prefix}.`
  for (const char of name) {
    if (/^[A-Za-z0-9.-]$/.test(char)) key += char
    else for (let i = 0; i < char.length; i++) key += `_${char.charCodeAt(i).toString(16).padStart(4, '0')}`
  }
  return key
}

export class ExpoSecureStoreAdapter implements SecureStore {
  private readonly prefix: string
  private readonly options: SecureStoreOptions

  constructor(
    private readonly module: SecureStoreModule,
    options: ExpoSecureStoreOptions = {},
  ) {
    this.prefix = options.prefix ?? 'pos-sdk'
    if (!KEY_CHARACTERS.test(this.prefix))
      throw new Error('the secure store prefix may only hold letters, digits, ".", "-" and "_"')
    this.options = {
      ...(options.keychainAccessible === undefined ? {} : { keychainAccessible: options.keychainAccessible }),
      ...(options.keychainService === undefined ? {} : { keychainService: options.keychainService }),
    }
  }

  async get(name: string): Promise<string | undefined> {
    return (await this.module.getItemAsync(secureStoreKey(this.prefix, name), this.options)) ?? undefined
  }

  async set(name: string, value: string): Promise<void> {
    // The message names the size, never the value.
    const bytes = new TextEncoder().encode(value).length
    if (bytes > MAX_VALUE_BYTES)
      throw new RangeError(
        `the value of ${name} is ${bytes} bytes; the secure store takes at most ${MAX_VALUE_BYTES}`,
      )
    await this.module.setItemAsync(secureStoreKey(this.prefix, name), value, this.options)
  }

  async delete(name: string): Promise<void> {
    await this.module.deleteItemAsync(secureStoreKey(this.prefix, name), this.options)
  }
}
