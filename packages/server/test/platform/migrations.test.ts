import { execFile } from 'node:child_process'
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { sql } from 'drizzle-orm'
import pino from 'pino'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { schemaDrift, verdict } from '../../src/cli/db.js'
import { type DatabaseHandle, openDatabase } from '../../src/platform/database.js'
import { MIGRATIONS_FOLDER, migrate, migrationStatus, readMigrations } from '../../src/platform/migrations.js'
import { createTestDatabase, type TestDatabase } from '../helpers/database.js'

const run = promisify(execFile)
const log = pino({ level: 'silent' })
const serverDir = new URL('../../', import.meta.url).pathname

describe('migrations', () => {
  let database: TestDatabase
  const handles: DatabaseHandle[] = []
  const open = async () => {
    const handle = await openDatabase({ databaseUrl: database.url, dataDir: '', log, poolSize: 2 })
    handles.push(handle)
    return handle
  }

  beforeEach(async () => {
    database = await createTestDatabase()
  })
  afterEach(async () => {
    await Promise.all(handles.splice(0).map((h) => h.close()))
    await database.drop()
  })

  it('reports every migration pending on an empty database, then applied', async () => {
    const { db } = await open()
    const tags = readMigrations().map((m) => m.tag)
    expect(await migrationStatus(db)).toEqual({ applied: [], pending: tags, modified: [] })
    expect(await migrate(db)).toEqual(tags)
    expect(await migrationStatus(db)).toEqual({ applied: tags, pending: [], modified: [] })
    expect(await migrate(db)).toEqual([])
  })

  it('applies each migration exactly once when several replicas migrate at the same moment', async () => {
    const replicas = await Promise.all(Array.from({ length: 6 }, () => open()))
    const results = await Promise.all(replicas.map(({ db }) => migrate(db)))
    const tags = readMigrations().map((m) => m.tag)
    expect(results.filter((applied) => applied.length > 0)).toEqual([tags])
    const { rows } = await replicas[0]!.db.execute<{ count: string }>(
      sql`SELECT count(*)::text AS count FROM drizzle.__drizzle_migrations`,
    )
    expect(rows[0]?.count).toBe(String(tags.length))
  })

  it('refuses to go on when an applied migration was edited afterwards', async () => {
    const { db } = await open()
    await migrate(db)
    const edited = readMigrations().map((m, i) => (i === 0 ? { ...m, hash: 'edited' } : m))
    const status = await migrationStatus(db, edited)
    expect(status.modified).toEqual([edited[0]!.tag])
    await expect(migrate(db, edited)).rejects.toThrow(/modified/)
  })

  it('finds no drift between the schema in code and the checked-in migrations', async () => {
    expect(await schemaDrift()).toEqual([])
  })

  it('detects drift when the schema has changes that no migration holds', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'pos-migrations-'))
    cpSync(MIGRATIONS_FOLDER, folder, { recursive: true })
    // Pretend the last migration never created tenants.name: the schema in code now has more than it.
    const journal = JSON.parse(readFileSync(join(folder, 'meta/_journal.json'), 'utf8')) as {
      entries: { idx: number }[]
    }
    const last = String(journal.entries.at(-1)!.idx).padStart(4, '0')
    const snapshotPath = join(folder, `meta/${last}_snapshot.json`)
    const snapshot = JSON.parse(readFileSync(snapshotPath, 'utf8'))
    delete snapshot.tables['public.tenants'].columns.name
    writeFileSync(snapshotPath, JSON.stringify(snapshot))
    const drift = await schemaDrift(folder)
    expect(drift).toEqual([expect.stringContaining('ADD COLUMN "name"')])
  })

  it('words its verdict: pending migrations are not a failure, edits and drift are', () => {
    expect(verdict('postgres', 0, 0, 0)).toBe('database (postgres) is up to date')
    expect(verdict('postgres', 3, 0, 0)).toBe(
      'not up to date: 3 migration(s) pending: run npm run db:migrate',
    )
    expect(verdict('postgres', 0, 1, 0)).toMatch(/^migration gate: FAILED: 1 applied migration\(s\) edited/)
    expect(verdict('embedded', 1, 0, 2)).toMatch(/^migration gate: FAILED: .*db:generate.*; 1 migration/)
  })

  it('db:status exits non-zero while a migration is pending and zero once db:migrate applied it', async () => {
    const env = { ...process.env, DATABASE_URL: database.url }
    const status = run('npx', ['tsx', 'src/cli/db.ts', 'status'], { cwd: serverDir, env })
    await expect(status).rejects.toMatchObject({
      code: 1,
      stdout: expect.stringMatching(/^not up to date: \d+ migration\(s\) pending: run npm run db:migrate$/m),
    })
    await expect(status).rejects.not.toMatchObject({ stdout: expect.stringContaining('FAILED') })
    const migrated = await run('npx', ['tsx', 'src/cli/db.ts', 'migrate'], { cwd: serverDir, env })
    expect(migrated.stdout).toContain('applied: 0000_init')
    const clean = await run('npx', ['tsx', 'src/cli/db.ts', 'status'], { cwd: serverDir, env })
    expect(clean.stdout).toContain('is up to date')
  })
})
