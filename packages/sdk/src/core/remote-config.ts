// The server's remote configuration for this source (GET /v1/config?source=), polled cheaply with its ETag
// and kept in the queue store's state, so a device that restarts offline still obeys the last one it saw. A
// server without the route (404) means the defaults.
import type { DeviceConfig } from '@pos/contracts'
import { ApiError } from './errors.js'
import type { QueueStore } from './ports.js'
import type { Transport } from './transport.js'

/** The body of GET /v1/config: the server's own contract. */
export type RemoteConfig = Readonly<DeviceConfig>

/**
 * What a server without the route (404) means: nothing restricted. Not the server's defaults for a tenant that
 * set nothing (DEFAULT_DEVICE_CONFIG), which that server sends itself.
 */
export const DEFAULT_REMOTE_CONFIG: RemoteConfig = {
  syncEnabled: true,
  minFlushIntervalSec: 0,
  maxBatchSize: 500,
  retryCap: 300,
  maintenanceMode: false,
  minSdkVersion: null,
}

const STATE_NAME = 'remote-config'
const RETRY_AFTER_FAILURE_MS = 60_000

interface SavedConfig {
  readonly config: RemoteConfig
  readonly etag: string | undefined
  readonly fetchedAt: number
}

export class RemoteConfigPoller {
  #saved: SavedConfig | undefined
  #loaded = false
  /** After a failed poll, not again before this (ms since the epoch): an offline device does not hammer it. */
  #retryAt = 0

  constructor(
    private readonly transport: Transport,
    private readonly queue: QueueStore,
    private readonly source: string,
    private readonly pollIntervalMs: number,
    private readonly now: () => number,
  ) {}

  /** The configuration in force: the last one the server gave, or the defaults. */
  get current(): RemoteConfig {
    return this.#saved?.config ?? DEFAULT_REMOTE_CONFIG
  }

  /**
   * Asks the server again when the last answer is older than the poll interval (never more often than
   * minFlushIntervalSec). Returns true when the configuration changed. A failure keeps the last one.
   */
  async refreshIfDue(): Promise<boolean> {
    if (!this.#loaded) {
      const text = await this.queue.getState(STATE_NAME)
      this.#saved = text === undefined ? undefined : (JSON.parse(text) as SavedConfig)
      this.#loaded = true
    }
    const interval = Math.max(this.pollIntervalMs, this.current.minFlushIntervalSec * 1000)
    if (this.#saved !== undefined && this.now() - this.#saved.fetchedAt < interval) return false
    if (this.now() < this.#retryAt) return false
    try {
      return await this.refresh()
    } catch (error) {
      this.#retryAt = this.now() + Math.min(interval, RETRY_AFTER_FAILURE_MS)
      throw error
    }
  }

  async refresh(): Promise<boolean> {
    const etag = this.#saved?.etag
    const response = await this.transport.send('GET', '/v1/config', {
      query: { source: this.source },
      ...(etag === undefined ? {} : { headers: { 'if-none-match': etag } }),
    })
    const fetchedAt = this.now()
    if (response.status === 304 && this.#saved !== undefined) {
      await this.save({ ...this.#saved, fetchedAt })
      return false
    }
    if (response.status === 404) {
      const changed = this.#saved !== undefined
      await this.save({ config: DEFAULT_REMOTE_CONFIG, etag: undefined, fetchedAt })
      return changed
    }
    if (!response.ok)
      throw new ApiError(response.status, undefined, `GET /v1/config answered ${response.status}`)
    const config = parseConfig(await response.json())
    const changed = JSON.stringify(config) !== JSON.stringify(this.current)
    await this.save({ config, etag: response.headers.get('etag') ?? undefined, fetchedAt })
    return changed
  }

  private async save(saved: SavedConfig): Promise<void> {
    this.#saved = saved
    await this.queue.setState(STATE_NAME, JSON.stringify(saved))
  }
}

/** Takes what is known from the body and the defaults for the rest, clamped to what the API allows. */
function parseConfig(body: unknown): RemoteConfig {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>
  const bool = (v: unknown, d: boolean) => (typeof v === 'boolean' ? v : d)
  const int = (v: unknown, d: number, min: number, max: number) =>
    typeof v === 'number' && Number.isInteger(v) ? Math.min(max, Math.max(min, v)) : d
  const d = DEFAULT_REMOTE_CONFIG
  return {
    syncEnabled: bool(b.syncEnabled, d.syncEnabled),
    minFlushIntervalSec: int(b.minFlushIntervalSec, d.minFlushIntervalSec, 0, 86_400),
    maxBatchSize: int(b.maxBatchSize, d.maxBatchSize, 1, 500),
    retryCap: int(b.retryCap, d.retryCap, 1, 86_400),
    maintenanceMode: bool(b.maintenanceMode, d.maintenanceMode),
    minSdkVersion: typeof b.minSdkVersion === 'string' ? b.minSdkVersion : null,
  }
}
