// `npm run cli -- secrets:reencrypt`: moves every stored secret to the current ENCRYPTION_KEY, the last step
// of a key rotation (see platform/secrets.ts). It first refuses a key that does not decrypt what is stored,
// and encrypts what a previous version left in clear. Safe to run again: the second run moves nothing.
import { checkStoredSecrets, encryptPlaintextSecrets, reencryptStoredSecrets } from '../platform/secrets.js'
import type { CommandGroup } from './command.js'

export const secretsCommands: CommandGroup = {
  'secrets:reencrypt': {
    args: [],
    summary:
      'Re-encrypts every stored secret under ENCRYPTION_KEY (after a rotation; ENCRYPTION_KEY_PREVIOUS decrypts)',
    prepare() {
      return async ({ database, secrets }) => {
        await checkStoredSecrets(database.db, secrets)
        const encryptedFromPlaintext = await encryptPlaintextSecrets(database.db, secrets)
        const { reencrypted, unchanged } = await reencryptStoredSecrets(database.db, secrets)
        const cleartext =
          encryptedFromPlaintext > 0 ? `; ${encryptedFromPlaintext} stored in clear were encrypted` : ''
        return {
          json: { keyId: secrets.keyId, reencrypted, unchanged, encryptedFromPlaintext },
          text:
            `Re-encrypted ${reencrypted} stored secret value(s) under key id ${secrets.keyId}; ` +
            `${unchanged} already were${cleartext}.\n`,
        }
      }
    },
  },
}
