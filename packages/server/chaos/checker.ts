// The chaos suite's verdict: what the clients were told (their ledgers) against what the database holds and
// what the webhook consumers received, plus the checks each fault made while it was on. Pure: every input is
// data, so the counting itself is unit-tested (test/chaos/checker.test.ts).
import type { PosEvent } from '../bench/support/events.js'
import type { Attempt, DeviceLedger } from './ledger.js'

export type FaultKind = 'kill' | 'postgres-cut' | 'redis-stop' | 'postgres-stall' | 'rolling-restart'

/** One fault as it was injected; `violations` are the checks it made while it was on (exit codes, probes). */
export interface FaultRecord {
  readonly kind: FaultKind
  readonly label: string
  /** Wall-clock ms when the fault began and when it was lifted (the dependency back, the restart issued). */
  readonly startedAt: number
  readonly endedAt: number
  /** From the fault's end until every replica answered ready again; null when one never did. */
  readonly recoveryMs: number | null
  readonly notes: readonly string[]
  readonly violations: readonly string[]
}

/** What a tenant's projections hold, read from the database at the end. */
export interface TenantProjections {
  /** on_hand by `<store code>/<sku>`. */
  readonly stock: ReadonlyMap<string, number>
  /** total_amount by order id. */
  readonly orderTotals: ReadonlyMap<string, number>
  /** Refunds stored per order id: how many and their sum. */
  readonly refunds: ReadonlyMap<string, { readonly count: number; readonly sum: number }>
}

export interface StoredFacts {
  /** The event ids in the log, per tenant. */
  readonly events: ReadonlyMap<string, ReadonlySet<string>>
  readonly projections: ReadonlyMap<string, TenantProjections>
}

export interface ChaosInput {
  readonly runStartedAt: number
  readonly ledgers: readonly DeviceLedger[]
  readonly stored: StoredFacts
  readonly faults: readonly FaultRecord[]
  /** Event ids each tenant's webhook consumer received at least once. */
  readonly delivered: ReadonlyMap<string, ReadonlySet<string>>
  /** An answer during the PostgreSQL outage slower than this is a hang. */
  readonly hangLimitMs: number
  /** Replicas that exited without being told to, in words (name, exit code, when). */
  readonly unexpectedExits: readonly string[]
}

export interface TableRow {
  readonly check: string
  readonly value: string
  /** What passes, in words; empty for a figure that is only reported. */
  readonly expected: string
  readonly ok: boolean
}

export interface FaultRow {
  readonly fault: string
  readonly atS: number
  readonly lastedS: number
  readonly recoveryS: number | null
  readonly notes: string
  readonly ok: boolean
}

export interface ChaosVerdict {
  readonly rows: readonly TableRow[]
  readonly faults: readonly FaultRow[]
  readonly violations: readonly string[]
  /** Examples behind each violation (event ids, stock cells), and of answers served without the database. */
  readonly examples: Record<string, readonly string[]>
  readonly ok: boolean
}

const EXAMPLES_KEPT = 5

function attemptsOf(ledgers: readonly DeviceLedger[]): Attempt[] {
  return ledgers.flatMap((ledger) => ledger.requests.flatMap((request) => request.attempts))
}

function within(attempt: Attempt, fault: FaultRecord): boolean {
  return attempt.startedAt >= fault.startedAt && attempt.startedAt < fault.endedAt
}

/** An attempt in words, for the examples: enough to find it in the replicas' logs. */
function described(
  ledgers: readonly DeviceLedger[],
  attempt: Attempt,
  faults: readonly FaultRecord[],
): string {
  for (const ledger of ledgers) {
    for (const request of ledger.requests) {
      const index = request.attempts.indexOf(attempt)
      if (index === -1) continue
      const fault = faults.find((f) => within(attempt, f))
      const when =
        fault === undefined ? '' : ` ${attempt.startedAt - fault.startedAt} ms into ${fault.label},`
      return (
        `${attempt.status}${attempt.replayed ? ' (replayed)' : ''}${attempt.detail ? ` ${attempt.detail}` : ''}:` +
        `${when} answered in ${attempt.endedAt - attempt.startedAt} ms by replica ${attempt.replica}; ` +
        `${ledger.device} ${request.kind} request ${request.idempotencyKey}, attempt ${index + 1}`
      )
    }
  }
  return String(attempt.status)
}

function countBy<T>(items: readonly T[], key: (item: T) => string): Map<string, number> {
  const counts = new Map<string, number>()
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1)
  return counts
}

function formatCounts(counts: ReadonlyMap<string, number>): string {
  if (counts.size === 0) return 'none'
  return [...counts]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, count]) => `${key}: ${count}`)
    .join(', ')
}

/** Every event id a 201 said is stored (accepted now, or a duplicate of one stored before), per tenant. */
function toldStored(ledger: DeviceLedger): Set<string> {
  const told = new Set<string>()
  for (const request of ledger.requests) {
    for (const id of request.answer?.eventIds ?? []) told.add(id)
    for (const id of request.answer?.duplicateEventIds ?? []) told.add(id)
  }
  return told
}

/** Ids two different requests each said they stored as new: one event written twice. */
function acceptedTwice(ledger: DeviceLedger): string[] {
  const acceptedBy = new Map<string, string>()
  const twice: string[] = []
  for (const request of ledger.requests) {
    if (request.replayed || request.answer === undefined) continue
    for (const id of request.answer.eventIds) {
      const earlier = acceptedBy.get(id)
      if (earlier !== undefined && earlier !== request.idempotencyKey) twice.push(id)
      else acceptedBy.set(id, request.idempotencyKey)
    }
  }
  return twice
}

/** Replays whose answer is not the original answer of their key. */
function replaysAnsweredDifferently(ledger: DeviceLedger): string[] {
  const originals = new Map<string, string>()
  for (const request of ledger.requests) {
    if (request.answer !== undefined && !request.replayed && !originals.has(request.idempotencyKey))
      originals.set(request.idempotencyKey, JSON.stringify(request.answer))
  }
  return ledger.requests
    .filter((request) => request.replayed && request.answer !== undefined)
    .filter((request) => {
      const original = originals.get(request.idempotencyKey)
      return original !== undefined && original !== JSON.stringify(request.answer)
    })
    .map((request) => request.idempotencyKey)
}

/** The projections the stored events must add up to, each event applied once. */
export function expectedProjections(events: Iterable<PosEvent>): TenantProjections {
  const stock = new Map<string, number>()
  const orderTotals = new Map<string, number>()
  const refunds = new Map<string, { count: number; sum: number }>()
  for (const event of events) {
    const data = event.data as Record<string, unknown>
    if (event.type === 'inventory.adjusted') {
      const cell = `${String(data.storeId)}/${String(data.sku)}`
      stock.set(cell, (stock.get(cell) ?? 0) + Number(data.delta))
    } else if (event.type === 'order.completed') {
      orderTotals.set(String(data.orderId), (data.total as { amount: number }).amount)
    } else if (event.type === 'refund.created') {
      const orderId = String(data.orderId)
      const before = refunds.get(orderId) ?? { count: 0, sum: 0 }
      refunds.set(orderId, {
        count: before.count + 1,
        sum: before.sum + (data.amount as { amount: number }).amount,
      })
    }
  }
  return { stock, orderTotals, refunds }
}

/** Cells where the projection differs from what the events add up to, as `<what> <key>: <held> != <expected>`. */
export function projectionMismatches(expected: TenantProjections, held: TenantProjections): string[] {
  const mismatches: string[] = []
  const compare = <Cell>(
    what: string,
    cells: (p: TenantProjections) => ReadonlyMap<string, Cell>,
    amount: (cell: Cell | undefined) => number,
  ) => {
    for (const key of new Set([...cells(expected).keys(), ...cells(held).keys()])) {
      const want = amount(cells(expected).get(key))
      const got = amount(cells(held).get(key))
      if (Math.abs(want - got) > 1e-6) mismatches.push(`${what} ${key}: ${got} != ${want}`)
    }
  }
  compare(
    'stock',
    (p) => p.stock,
    (onHand) => onHand ?? 0,
  )
  compare(
    'order total',
    (p) => p.orderTotals,
    (total) => total ?? 0,
  )
  compare(
    'refunds',
    (p) => p.refunds,
    (refunds) => refunds?.count ?? 0,
  )
  compare(
    'refunded total',
    (p) => p.refunds,
    (refunds) => refunds?.sum ?? 0,
  )
  return mismatches
}

/** A row that only reports a figure: it cannot fail. */
const figure = (check: string, value: number): TableRow => ({
  check,
  value: String(value),
  expected: '',
  ok: true,
})

/** A row that passes when nothing was found: `found`, or `found of among` where the share tells more. */
const none = (check: string, found: number, among?: number, expected = '0'): TableRow => ({
  check,
  value: among === undefined ? String(found) : `${found} of ${among}`,
  expected,
  ok: found === 0,
})

const EMPTY_PROJECTIONS: TenantProjections = { stock: new Map(), orderTotals: new Map(), refunds: new Map() }

export function checkChaos(input: ChaosInput): ChaosVerdict {
  const attempts = attemptsOf(input.ledgers)
  const requests = input.ledgers.flatMap((ledger) => ledger.requests)
  const examples: Record<string, string[]> = {}
  const note = (name: string, items: readonly string[]) => {
    if (items.length > 0) examples[name] = [...(examples[name] ?? []), ...items].slice(0, EXAMPLES_KEPT)
  }

  let told = 0
  let stored = 0
  let lost = 0
  let twice = 0
  let mismatched = 0
  let replayDiffs = 0
  let delivered = 0
  for (const ledger of input.ledgers) {
    const inLog = input.stored.events.get(ledger.tenantId) ?? new Set<string>()
    const tenantTold = toldStored(ledger)
    told += tenantTold.size
    stored += inLog.size
    const missing = [...tenantTold].filter((id) => !inLog.has(id))
    lost += missing.length
    note('lost', missing)
    const doubled = acceptedTwice(ledger)
    twice += doubled.length
    note('accepted twice', doubled)
    const storedEvents = [...inLog].flatMap((id) => {
      const event = ledger.sent.get(id)
      return event === undefined ? [] : [event]
    })
    const cells = projectionMismatches(
      expectedProjections(storedEvents),
      input.stored.projections.get(ledger.tenantId) ?? EMPTY_PROJECTIONS,
    )
    mismatched += cells.length
    note('projection mismatches', cells)
    const diffs = replaysAnsweredDifferently(ledger)
    replayDiffs += diffs.length
    note('replays answered differently', diffs)
    const arrived = input.delivered.get(ledger.tenantId) ?? new Set<string>()
    const undelivered = [...inLog].filter((id) => !arrived.has(id))
    delivered += inLog.size - undelivered.length
    note('webhook events never delivered', undelivered)
  }

  const unexpected = attempts.filter(
    (a) => a.status !== 'error' && a.status !== 201 && a.status !== 429 && a.status !== 503,
  )
  // Only the attempts shown are described: finding an attempt's request is a search through the ledgers.
  const describe = (attempts: readonly Attempt[]) =>
    attempts.slice(0, EXAMPLES_KEPT).map((a) => described(input.ledgers, a, input.faults))
  note('unexpected answers', describe(unexpected))
  const gaveUp = requests.filter((request) => request.answer === undefined).length

  const postgresOutages = input.faults.filter((fault) => fault.kind === 'postgres-cut')
  const duringPostgres = attempts.filter((a) => postgresOutages.some((fault) => within(a, fault)))
  // Served without the database: a 429 needs only the rate limiter, and a replay of a request this replica
  // saw committed is answered from its memory (the ingest batch writer's ledger). Anything else but a 503 is
  // a violation.
  const servedWithoutDatabase = (a: Attempt) => a.status === 429 || (a.status === 201 && a.replayed)
  const withoutDatabase = duringPostgres.filter(servedWithoutDatabase)
  const notUnavailable = duringPostgres.filter((a) => a.status !== 503 && !servedWithoutDatabase(a))
  const withoutRetryAfter = duringPostgres.filter((a) => a.status === 503 && a.retryAfter === null)
  const hung = duringPostgres.filter((a) => a.endedAt - a.startedAt > input.hangLimitMs)
  note('answers other than 503 during the PostgreSQL outage', describe(notUnavailable))
  note('served without the database during the PostgreSQL outage', describe(withoutDatabase))
  note('answers slower than the readiness timeout during the PostgreSQL outage', describe(hung))

  const redisOutages = input.faults.filter((fault) => fault.kind === 'redis-stop')
  const duringRedis = attempts.filter((a) => redisOutages.some((fault) => within(a, fault)))
  const redis5xx = duringRedis.filter((a) => a.status !== 'error' && a.status >= 500)
  note('5xx during the Redis outage', describe(redis5xx))
  note('replicas that exited on their own', input.unexpectedExits)

  const rows: TableRow[] = [
    figure('requests (batches) sent', requests.length),
    {
      check: 'HTTP attempts (retries included)',
      value: String(attempts.length),
      expected: '',
      ok: attempts.length > 0,
    },
    {
      check: 'answers by status',
      value: formatCounts(countBy(attempts, (a) => String(a.status))),
      expected: '201, 429, 503 or a connection error',
      ok: unexpected.length === 0,
    },
    figure('requests given up after bounded retries', gaveUp),
    { check: 'events told stored', value: String(told), expected: '', ok: told > 0 },
    figure('events stored', stored),
    none('lost (told stored, not stored)', lost),
    none('duplicated (accepted as new twice)', twice),
    none('duplicated or missed in stock, order and refund totals', mismatched),
    none('replays answered unlike the original', replayDiffs),
    figure('replays answered (Idempotent-Replayed)', requests.filter((request) => request.replayed).length),
    none('5xx during the Redis outage', redis5xx.length, duringRedis.length),
    figure(
      'answers served without the database during the PostgreSQL outage (429, replays)',
      withoutDatabase.length,
    ),
    none(
      'answers other than 503 during the PostgreSQL outage',
      notUnavailable.length,
      duringPostgres.length,
      '0, but for those served without the database',
    ),
    none('503 without Retry-After during the PostgreSQL outage', withoutRetryAfter.length),
    none(`answers slower than ${input.hangLimitMs} ms during the PostgreSQL outage`, hung.length),
    none('replicas that exited on their own', input.unexpectedExits.length),
    {
      check: 'webhook events delivered at least once',
      value: `${delivered} of ${stored}`,
      expected: 'all',
      ok: delivered === stored,
    },
  ]

  const faults: FaultRow[] = input.faults.map((fault) => ({
    fault: fault.label,
    atS: round((fault.startedAt - input.runStartedAt) / 1000),
    lastedS: round((fault.endedAt - fault.startedAt) / 1000),
    recoveryS: fault.recoveryMs === null ? null : round(fault.recoveryMs / 1000),
    notes: fault.notes.join('; '),
    ok: fault.violations.length === 0 && fault.recoveryMs !== null,
  }))
  const violations = [
    ...rows.filter((row) => !row.ok).map((row) => `${row.check}: ${row.value} (expected ${row.expected})`),
    ...input.faults.flatMap((fault) => [
      ...fault.violations.map((v) => `${fault.label}: ${v}`),
      ...(fault.recoveryMs === null ? [`${fault.label}: a replica did not recover`] : []),
    ]),
  ]
  return { rows, faults, violations, examples, ok: violations.length === 0 }
}

const round = (value: number) => Number(value.toFixed(1))
