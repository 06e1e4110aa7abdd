// Applies and reports the SQL migrations that drizzle-kit generates from src/db/schema.ts. Migrations run in
// one transaction under a PostgreSQL advisory lock, so replicas that start together apply each exactly once.
// The bookkeeping table is drizzle's own (`drizzle.__drizzle_migrations`), so drizzle tooling agrees with us.
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { sql } from 'drizzle-orm'
import type { Database } from './database.js'
import { timedQuery } from './metrics.js'

export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../../drizzle/', import.meta.url))

// An arbitrary constant that names "schema migration" among the advisory locks of this database.
const MIGRATION_LOCK_KEY = sql.raw('7140512933001')

export interface Migration {
  readonly tag: string
  /** drizzle-kit's creation time of the migration; it identifies the migration in the bookkeeping table. */
  readonly createdAt: number
  readonly hash: string
  readonly statements: readonly string[]
}

export interface MigrationStatus {
  readonly applied: readonly string[]
  readonly pending: readonly string[]
  /** Migrations applied with a different text than the file now has: someone edited history. */
  readonly modified: readonly string[]
}

interface Journal {
  entries: { tag: string; when: number }[]
}

export function readMigrations(folder = MIGRATIONS_FOLDER): Migration[] {
  const journal = JSON.parse(readFileSync(`${folder}/meta/_journal.json`, 'utf8')) as Journal
  return journal.entries.map((entry) => {
    const text = readFileSync(`${folder}/${entry.tag}.sql`, 'utf8')
    return {
      tag: entry.tag,
      createdAt: entry.when,
      hash: createHash('sha256').update(text).digest('hex'),
      statements: text
        .split('--> statement-breakpoint')
        .map((s) => s.trim())
        .filter((s) => s.length > 0),
    }
  })
}

type Executor = Pick<Database, 'execute'>

async function appliedMigrations(db: Executor): Promise<Map<number, string>> {
  const exists = await db.execute<{ table: string | null }>(
    sql`SELECT to_regclass('drizzle.__drizzle_migrations')::text AS table`,
  )
  if (!exists.rows[0]?.table) return new Map()
  const rows = await db.execute<{ created_at: string; hash: string }>(
    sql`SELECT created_at::text AS created_at, hash FROM drizzle.__drizzle_migrations`,
  )
  return new Map(rows.rows.map((row) => [Number(row.created_at), row.hash]))
}

function compare(migrations: readonly Migration[], applied: Map<number, string>): MigrationStatus {
  const status = { applied: [] as string[], pending: [] as string[], modified: [] as string[] }
  for (const migration of migrations) {
    const hash = applied.get(migration.createdAt)
    if (hash === undefined) status.pending.push(migration.tag)
    else if (hash !== migration.hash) status.modified.push(migration.tag)
    else status.applied.push(migration.tag)
  }
  return status
}

export async function migrationStatus(db: Database, migrations = readMigrations()): Promise<MigrationStatus> {
  return compare(migrations, await timedQuery('migrations.status', () => appliedMigrations(db)))
}

/** Applies every pending migration; returns the tags it applied (none when another replica got there first). */
export async function migrate(db: Database, migrations = readMigrations()): Promise<string[]> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`)
    await tx.execute(sql`CREATE SCHEMA IF NOT EXISTS drizzle`)
    await tx.execute(
      sql`CREATE TABLE IF NOT EXISTS drizzle.__drizzle_migrations (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint)`,
    )
    const status = compare(migrations, await appliedMigrations(tx))
    if (status.modified.length > 0) {
      throw new Error(`applied migrations were modified since: ${status.modified.join(', ')}`)
    }
    const pending = migrations.filter((m) => status.pending.includes(m.tag))
    for (const migration of pending) {
      for (const statement of migration.statements) await tx.execute(sql.raw(statement))
      await tx.execute(
        sql`INSERT INTO drizzle.__drizzle_migrations (hash, created_at) VALUES (${migration.hash}, ${migration.createdAt})`,
      )
    }
    return pending.map((m) => m.tag)
  })
}
