// Start-up: what must be true before /startupz turns 200. Pending migrations are applied (or, with
// MIGRATE_ON_START=false, waited for until someone else applies them), the encryption key is checked against
// the stored secrets (a wrong key is a ConfigError: fatal, not retried), and every dependency is reached once.
import { setTimeout as sleep } from 'node:timers/promises'
import { migrate, migrationStatus } from './migrations.js'
import type { Platform } from './platform.js'
import { prepareStoredSecrets } from './secrets.js'

const PENDING_POLL_MS = 2000

export async function completeStartup(platform: Platform, signal?: AbortSignal): Promise<void> {
  const { config, database, redis, lifecycle, log } = platform
  if (config.migrateOnStart) {
    lifecycle.waitFor('applying migrations')
    const applied = await migrate(database.db)
    log.info({ applied }, applied.length > 0 ? 'migrations applied' : 'schema is up to date')
  }
  for (;;) {
    lifecycle.waitFor('checking migrations')
    const status = await migrationStatus(database.db)
    if (status.modified.length > 0) {
      throw new Error(`applied migrations were modified since: ${status.modified.join(', ')}`)
    }
    if (status.pending.length === 0) break
    lifecycle.waitFor(`migrations pending: ${status.pending.join(', ')}`)
    log.warn({ pending: status.pending }, 'migrations pending and MIGRATE_ON_START=false; waiting for them')
    await sleep(PENDING_POLL_MS, undefined, { signal })
  }
  lifecycle.waitFor('checking the encryption key')
  await prepareStoredSecrets(database.db, platform.secrets, log)
  if (redis) {
    lifecycle.waitFor('connecting to redis')
    await redis.connect(signal)
  }
  lifecycle.markStarted()
  log.info('start-up complete')
}
