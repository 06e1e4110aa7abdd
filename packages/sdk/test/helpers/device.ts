// A device as the tests build it: a SQLite queue and an encrypted-file secure store in a fresh directory, and
// a client over them whose background flush is off unless a test starts it.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  type ClientOptions,
  createClient,
  type DeviceClient,
  type NewEvent,
  openEncryptedFileSecureStore,
  openSqliteQueueStore,
  type QueueStore,
  type SecureStore,
} from '../../src/node/index.js'

export const PASSPHRASE = 'a-passphrase-the-app-supplies'

export interface TestDevice {
  readonly dir: string
  queue: QueueStore
  readonly secrets: SecureStore
  client: DeviceClient
  /** Closes the queue and opens it again with a new client: what a restart of the app does. */
  restart(options?: Partial<ClientOptions>): Promise<DeviceClient>
  close(): Promise<void>
}

export async function openTestDevice(
  options: Omit<ClientOptions, 'queue' | 'secrets'> & { apiKey?: string; signingSecret?: string },
): Promise<TestDevice> {
  const { apiKey, signingSecret, ...clientOptions } = options
  const dir = mkdtempSync(join(tmpdir(), 'pos-sdk-test-'))
  const secrets = await openEncryptedFileSecureStore(join(dir, 'secrets.json'), PASSPHRASE)
  if (apiKey !== undefined) await secrets.set('apiKey', apiKey)
  if (signingSecret !== undefined) await secrets.set('signingSecret', signingSecret)
  const make = (queue: QueueStore, extra: Partial<ClientOptions> = {}) =>
    createClient({ flushIntervalMs: 0, ...clientOptions, ...extra, queue, secrets })
  const queue = openSqliteQueueStore(join(dir, 'queue.db'))
  const device: TestDevice = {
    dir,
    queue,
    secrets,
    client: make(queue),
    async restart(extra) {
      await device.client.stop()
      await device.queue.close()
      device.queue = openSqliteQueueStore(join(dir, 'queue.db'))
      device.client = make(device.queue, extra)
      return device.client
    },
    async close() {
      await device.client.stop()
      await device.queue.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
  return device
}

let counter = 0
/** A stock movement at the Berlin store, with a fresh id unless given. */
export function saleEvent(overrides: Partial<NewEvent> = {}): NewEvent {
  counter++
  return {
    type: 'inventory.adjusted',
    occurredAt: '2026-11-28T10:15:00.000Z',
    data: { storeId: 'berlin-1', sku: `SKU-${counter}`, delta: -1 },
    ...overrides,
  }
}
