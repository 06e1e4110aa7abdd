// The contract every SecureStore adapter passes. `open()` opens the store at the harness's fixed location;
// values written before close() are there after the next open().
import type { SecureStore } from '../core/ports.js'
import { type ContractCheck, expectEqual } from './contract.js'

export interface SecureStoreHarness {
  open(): Promise<SecureStore & { close?(): Promise<void> }>
}

export function secureStoreContract(makeHarness: () => SecureStoreHarness): ContractCheck[] {
  const check = (name: string, body: (harness: SecureStoreHarness) => Promise<void>): ContractCheck => ({
    name,
    run: () => body(makeHarness()),
  })
  return [
    check('set, get, replace and delete', async (h) => {
      const store = await h.open()
      expectEqual(await store.get('apiKey'), undefined, 'before set')
      await store.set('apiKey', 'pos_live_one')
      expectEqual(await store.get('apiKey'), 'pos_live_one', 'after set')
      await store.set('apiKey', 'pos_live_two')
      expectEqual(await store.get('apiKey'), 'pos_live_two', 'after replacing')
      await store.delete('apiKey')
      expectEqual(await store.get('apiKey'), undefined, 'after delete')
      await store.delete('apiKey')
      await store.close?.()
    }),
    check('names are independent and values survive close and open', async (h) => {
      const store = await h.open()
      const secret = `whsec_${'x'.repeat(32)}=+/é`
      await store.set('apiKey', 'key-a')
      await store.set('signingSecret', secret)
      await store.close?.()
      const reopened = await h.open()
      expectEqual(await reopened.get('apiKey'), 'key-a', 'apiKey after reopening')
      expectEqual(await reopened.get('signingSecret'), secret, 'signingSecret after reopening')
      await reopened.close?.()
    }),
  ]
}
