// `npm run db:migrate` and `npm run db:status`: the migration gate. Status exits non-zero when a migration is
// pending or was edited after it was applied, or when src/db/schema.ts has changes no migration holds (drift).
import { readdirSync, readFileSync } from 'node:fs'
import { loadConfig } from '../config.js'
import * as schema from '../db/schema.js'
import { openDatabase } from '../platform/database.js'
import { createLogger } from '../platform/logger.js'
import { MIGRATIONS_FOLDER, migrate, migrationStatus } from '../platform/migrations.js'

/** SQL statements a new migration would need to bring the last snapshot up to the schema in code. */
export async function schemaDrift(folder = MIGRATIONS_FOLDER): Promise<string[]> {
  // drizzle-kit is a development tool; load it only for this check.
  const { generateDrizzleJson, generateMigration } = await import('drizzle-kit/api')
  const snapshots = readdirSync(`${folder}/meta`)
    .filter((name) => name.endsWith('_snapshot.json'))
    .sort()
  const last = snapshots.at(-1)
  const previous = last ? JSON.parse(readFileSync(`${folder}/meta/${last}`, 'utf8')) : generateDrizzleJson({})
  const current = generateDrizzleJson({ ...schema }, previous.id)
  return generateMigration(previous, current)
}

async function run(command: string | undefined): Promise<number> {
  if (command !== 'migrate' && command !== 'status') {
    process.stderr.write('usage: db <migrate|status>\n')
    return 2
  }
  // Only the database settings matter here; neither the admin token nor the encryption key is used to migrate
  // (start-up encrypts what a migration left in clear, see platform/secrets.ts).
  const config = loadConfig({
    ...process.env,
    ADMIN_TOKEN: process.env.ADMIN_TOKEN ?? 'x'.repeat(16),
    ENCRYPTION_KEY: process.env.ENCRYPTION_KEY ?? Buffer.alloc(32).toString('base64'),
  })
  const log = createLogger({ level: 'warn' })
  const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, log })
  try {
    if (command === 'migrate') {
      const applied = await migrate(database.db)
      process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'nothing to apply\n')
      return 0
    }
    const status = await migrationStatus(database.db)
    const drift = await schemaDrift()
    for (const tag of status.applied) process.stdout.write(`applied   ${tag}\n`)
    for (const tag of status.pending) process.stdout.write(`pending   ${tag}\n`)
    for (const tag of status.modified)
      process.stdout.write(`MODIFIED  ${tag} (edited after it was applied)\n`)
    if (drift.length > 0) {
      process.stdout.write(
        'DRIFT     src/db/schema.ts has changes no migration holds; run npm run db:generate\n',
      )
      for (const statement of drift) process.stdout.write(`          ${statement.replaceAll('\n', ' ')}\n`)
    }
    const clean = status.pending.length === 0 && status.modified.length === 0 && drift.length === 0
    process.stdout.write(
      `${verdict(database.mode, status.pending.length, status.modified.length, drift.length)}\n`,
    )
    return clean ? 0 : 1
  } finally {
    await database.close()
  }
}

/**
 * The last line of `db:status`, in plain words: pending migrations are the normal state of a database before
 * `db:migrate` (CI checks that an empty one is reported so); edited migrations and drift are mistakes.
 */
export function verdict(mode: string, pending: number, modified: number, drift: number): string {
  if (pending === 0 && modified === 0 && drift === 0) return `database (${mode}) is up to date`
  const problems = [
    ...(modified > 0 ? [`${modified} applied migration(s) edited since`] : []),
    ...(drift > 0 ? ['src/db/schema.ts has changes no migration holds (npm run db:generate)'] : []),
  ]
  const waiting = pending > 0 ? `${pending} migration(s) pending: run npm run db:migrate` : ''
  if (problems.length === 0) return `not up to date: ${waiting}`
  return `migration gate: FAILED: ${[...problems, ...(waiting ? [waiting] : [])].join('; ')}`
}

if (import.meta.url === `file://${process.argv[1]}`) {
  run(process.argv[2]).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`)
      process.exit(1)
    },
  )
}
