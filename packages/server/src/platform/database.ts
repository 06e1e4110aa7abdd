// The one place that owns the database connection: PostgreSQL through `pg` when DATABASE_URL is set,
// embedded PGlite under DATA_DIR when it is not. Both yield the same Drizzle API over the same schema.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import { sql } from 'drizzle-orm'
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres'
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core'
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite'
import pg from 'pg'
import type { Logger } from 'pino'
import * as schema from '../db/schema.js'
import { isDatabaseUnreachable } from './database-errors.js'
import { timedQuery } from './metrics.js'
import type { Statement } from './sql.js'

/** Query results as both drivers return them: an object with the rows. */
interface RowsResultHKT extends PgQueryResultHKT {
  type: QueryRows<this['row']>
}
interface QueryRows<Row> {
  rows: Row[]
}

export type Database = PgDatabase<RowsResultHKT, typeof schema>
export type DatabaseMode = 'postgres' | 'embedded'

/** Plain SQL on one connection, for the hot write path where building queries would cost too much. */
export interface SqlSession {
  /** Runs a statement by name (prepared once per connection where the driver can). */
  query<Params extends readonly unknown[], Row>(
    statement: Statement<Params, Row>,
    params: Params,
  ): Promise<Row[]>
}

export interface DatabaseHandle {
  readonly mode: DatabaseMode
  readonly db: Database
  /** Runs `work` in one transaction on one connection: committed when it resolves, rolled back if it throws. */
  transaction<T>(work: (session: SqlSession) => Promise<T>): Promise<T>
  /** Runs `work` on one connection without a transaction: each statement commits on its own. */
  session<T>(work: (session: SqlSession) => Promise<T>): Promise<T>
  /** Round trip to the server (`SELECT 1`); rejects when it is unreachable. */
  ping(): Promise<void>
  /**
   * Whether `err` says the server could not be reached (or is not accepting connections yet), so trying
   * again later may succeed; false for errors that retrying cannot fix, such as a wrong password.
   */
  isUnreachable(err: unknown): boolean
  close(): Promise<void>
}

export interface DatabaseOptions {
  readonly databaseUrl: string | undefined
  readonly dataDir: string
  readonly log: Logger
  /** Upper bound on one pooled connection's wait for a free slot and on a fresh connection. */
  readonly connectTimeoutMs?: number
  readonly poolSize?: number
}

export async function openDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  return options.databaseUrl === undefined
    ? openEmbedded(options.dataDir)
    : openPostgres(options.databaseUrl, options)
}

function sessionOf(client: pg.PoolClient): SqlSession {
  return {
    async query<Params extends readonly unknown[], Row>(statement: Statement<Params, Row>, params: Params) {
      const result = await client.query({ name: statement.name, text: statement.text, values: [...params] })
      return result.rows as Row[]
    },
  }
}

/**
 * A pooled client for a session of our own. While it is checked out, the pool no longer listens for its
 * errors: a connection that drops between two queries would emit 'error' with no listener and crash the
 * process. The query in flight fails on its own; this listener only keeps the process alive.
 */
async function checkOut(pool: pg.Pool): Promise<pg.PoolClient> {
  const client = await pool.connect()
  if (!checkedOut.has(client)) {
    checkedOut.add(client)
    client.on('error', () => undefined)
  }
  return client
}
const checkedOut = new WeakSet<pg.PoolClient>()

function openPostgres(connectionString: string, options: DatabaseOptions): DatabaseHandle {
  const pool = new pg.Pool({
    connectionString,
    max: options.poolSize ?? 20,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
    idleTimeoutMillis: 30_000,
    application_name: 'pos-integration-service',
  })
  // An idle client losing its connection emits 'error' on the pool; unhandled, it would kill the process.
  pool.on('error', (err) =>
    options.log.warn({ err: { message: err.message } }, 'idle database connection lost'),
  )
  const db = drizzlePg(pool, { schema }) as unknown as Database
  let closed: Promise<void> | undefined
  return {
    mode: 'postgres',
    db,
    async session(work) {
      const client = await checkOut(pool)
      try {
        return await work(sessionOf(client))
      } finally {
        client.release()
      }
    },
    async transaction(work) {
      const client = await checkOut(pool)
      const session = sessionOf(client)
      try {
        await client.query('BEGIN')
        const result = await work(session)
        await client.query('COMMIT')
        client.release()
        return result
      } catch (err) {
        // A connection whose rollback failed is in an unknown state: destroy it rather than reuse it.
        const broken = await client.query('ROLLBACK').then(
          () => undefined,
          (rollbackError: unknown) => rollbackError,
        )
        client.release(broken instanceof Error ? broken : undefined)
        throw err
      }
    },
    async ping() {
      await timedQuery('health.ping', () => pool.query('SELECT 1'))
    },
    isUnreachable: isDatabaseUnreachable,
    close() {
      closed ??= pool.end()
      return closed
    },
  }
}

/** The embedded database's directory is held by another live process (the server, usually). */
export class DataDirInUseError extends Error {
  constructor(
    readonly dataDir: string,
    readonly ownerPid: number,
  ) {
    super(`the embedded database in ${dataDir} is in use by process ${ownerPid}; stop it first`)
    this.name = 'DataDirInUseError'
  }
}

/**
 * The embedded database is for one process at a time: a second one (a second server, or the CLI while the
 * server runs) would corrupt it. A lock file with the owner's pid keeps it out; a lock left behind by a
 * process that is gone is taken over.
 */
function lockDataDir(dataDir: string): () => void {
  const lockPath = join(dataDir, 'pos-service.lock')
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lockPath, String(process.pid), { flag: 'wx' })
      return () => rmSync(lockPath, { force: true })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      const owner = Number(readFileSync(lockPath, 'utf8'))
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
        throw new DataDirInUseError(dataDir, owner)
      }
      rmSync(lockPath, { force: true })
    }
  }
  throw new Error(`could not lock the embedded database in ${dataDir}`)
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

async function openEmbedded(dataDir: string): Promise<DatabaseHandle> {
  mkdirSync(dataDir, { recursive: true })
  const unlock = lockDataDir(dataDir)
  const client = await PGlite.create(dataDir).catch((err: unknown) => {
    unlock()
    throw err
  })
  const db = drizzlePglite(client, { schema }) as unknown as Database
  let closed: Promise<void> | undefined
  return {
    mode: 'embedded',
    db,
    transaction(work) {
      return client.transaction((tx) =>
        work({
          async query<Params extends readonly unknown[], Row>(
            statement: Statement<Params, Row>,
            params: Params,
          ) {
            return (await tx.query<Row>(statement.text, [...params])).rows
          },
        }),
      )
    },
    session(work) {
      return work({
        async query<Params extends readonly unknown[], Row>(
          statement: Statement<Params, Row>,
          params: Params,
        ) {
          return (await client.query<Row>(statement.text, [...params])).rows
        },
      })
    },
    async ping() {
      await timedQuery('health.ping', () => db.execute(sql`SELECT 1`))
    },
    // An embedded database is a local library: once open, there is nothing to wait for.
    isUnreachable: () => false,
    close() {
      closed ??= (client.closed ? Promise.resolve() : client.close()).finally(unlock)
      return closed
    },
  }
}
