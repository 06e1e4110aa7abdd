// Where a run's CPU went, from /proc: the server process, the PostgreSQL backends serving the bench's database
// (the service's pool, or the naive server's), and how much of the machine stayed idle. Together they say what
// limits a line: a server near a core, the database, or the machine's cores all busy.
import { readFileSync } from 'node:fs'
import type pg from 'pg'
import { cpuSecondsOf } from './server-process.js'

export interface Usage {
  /** CPU seconds of the server process. */
  readonly serverS: number
  /** CPU seconds of the database's backends for the bench database, the bench's own connection excepted. */
  readonly databaseS: number
  /** Share of the machine's CPU time that was idle (idle and iowait over all cores), 0 to 1. */
  readonly machineIdle: number
}

interface Snapshot {
  readonly server: number
  readonly backends: ReadonlyMap<number, number>
  readonly idleTicks: number
  readonly totalTicks: number
}

/** The machine's idle and total clock ticks over all cores (/proc/stat's first line). */
function machineTicks(): { idle: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!
  const ticks = line.trim().split(/\s+/).slice(1).map(Number)
  // user nice system idle iowait irq softirq steal; guest times are already in user and nice.
  const total = ticks.slice(0, 8).reduce((sum, t) => sum + t, 0)
  return { idle: (ticks[3] ?? 0) + (ticks[4] ?? 0), total }
}

function cpuOrZero(pid: number): number {
  try {
    return cpuSecondsOf(pid)
  } catch {
    return 0 // the backend ended; what it used is lost, and the pool keeps its connections for a run anyway
  }
}

async function backendsOf(sql: pg.Client): Promise<Map<number, number>> {
  const { rows } = await sql.query<{ pid: number }>(
    'SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
  )
  return new Map(rows.map(({ pid }) => [pid, cpuOrZero(pid)]))
}

/** Measures what `run` used; `sql` is a connection to the bench database. */
export async function measureUsage<T>(
  sql: pg.Client,
  serverCpu: () => number,
  run: () => Promise<T>,
): Promise<{ result: T; usage: Usage }> {
  const snapshot = async (): Promise<Snapshot> => {
    const { idle, total } = machineTicks()
    return { server: serverCpu(), backends: await backendsOf(sql), idleTicks: idle, totalTicks: total }
  }
  const before = await snapshot()
  const result = await run()
  const after = await snapshot()
  let databaseS = 0
  // A backend that connected during the run counts from zero: its whole life was in the window.
  for (const [pid, seconds] of after.backends) databaseS += seconds - (before.backends.get(pid) ?? 0)
  const totalTicks = after.totalTicks - before.totalTicks
  return {
    result,
    usage: {
      serverS: after.server - before.server,
      databaseS,
      machineIdle: totalTicks === 0 ? 0 : (after.idleTicks - before.idleTicks) / totalTicks,
    },
  }
}
