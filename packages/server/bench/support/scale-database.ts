// A fresh PostgreSQL database for the scale bench: created, migrated by the service's own migrations, then
// seeded (support/scale-seed.ts). Shared by `npm run bench:seed` and `npm run bench:scale`.
import pg from 'pg'
import { openDatabase } from '../../src/platform/database.js'
import { createLogger } from '../../src/platform/logger.js'
import { migrate } from '../../src/platform/migrations.js'
import { createTestDatabase, type TestDatabase } from '../../test/helpers/database.js'
import { type SeedOptions, type SeedResult, seedScaleData } from './scale-seed.js'

export interface SeededDatabase {
  readonly database: TestDatabase
  readonly seed: SeedResult
  /** Wall-clock seconds of the whole seeding, migrations included. */
  readonly seconds: number
}

/** Applies the service's migrations to the database at `url`. */
export async function migrateDatabase(url: string): Promise<void> {
  const handle = await openDatabase({
    databaseUrl: url,
    dataDir: '',
    log: createLogger({ level: 'warn' }),
  })
  try {
    await migrate(handle.db)
  } finally {
    await handle.close()
  }
}

/** Seeds the migrated, empty database at `url`. */
export async function seedDatabaseAt(url: string, options: SeedOptions): Promise<SeedResult> {
  const client = new pg.Client({ connectionString: url, application_name: 'pos-scale-seed' })
  await client.connect()
  try {
    return await seedScaleData(client, options)
  } finally {
    await client.end()
  }
}

export async function createSeededDatabase(options: SeedOptions): Promise<SeededDatabase> {
  const started = performance.now()
  const database = await createTestDatabase()
  try {
    await migrateDatabase(database.url)
    const seed = await seedDatabaseAt(database.url, options)
    return { database, seed, seconds: (performance.now() - started) / 1000 }
  } catch (err) {
    await database.drop()
    throw err
  }
}
