// What the bench sent to a service and what the service said it stored, and the check of both against the
// database once the service has drained.
import type pg from 'pg'

/**
 * Every event sent to one server and every event it answered 201 for. autocannon drops the requests still in
 * flight when its time is up, so the events of requests sent but never answered are the only ones the
 * database may hold unconfirmed.
 */
export class Ledger {
  readonly sent = new Set<string>()
  readonly confirmed = new Set<string>()
  /** Requests whose answer was read, and the events they carried. */
  answeredRequests = 0
  answeredEvents = 0

  /** Events of requests sent but never answered (cut off in flight when a run stopped). */
  get cutOff(): number {
    return this.sent.size - this.answeredEvents
  }
}

export interface StorageCheck {
  readonly answered201: number
  readonly stored: number
  readonly storedUnanswered: number
  readonly cutOffInFlight: number
  readonly confirmedButMissing: number
  readonly storedButNeverSent: number
  readonly ok: boolean
}

/** After the service drained: every event answered 201 is stored, and nothing else but cut-off requests'. */
export async function checkStorage(sql: pg.Client, tenantId: string, ledger: Ledger): Promise<StorageCheck> {
  const { rows } = await sql.query<{ event_id: string }>('SELECT event_id FROM events WHERE tenant_id = $1', [
    tenantId,
  ])
  const stored = new Set(rows.map((row) => row.event_id))
  let confirmedButMissing = 0
  for (const id of ledger.confirmed) if (!stored.has(id)) confirmedButMissing++
  let storedButNeverSent = 0
  let storedUnanswered = 0
  for (const id of stored) {
    if (!ledger.sent.has(id)) storedButNeverSent++
    else if (!ledger.confirmed.has(id)) storedUnanswered++
  }
  return {
    answered201: ledger.confirmed.size,
    stored: rows.length,
    storedUnanswered,
    cutOffInFlight: ledger.cutOff,
    confirmedButMissing,
    storedButNeverSent,
    ok:
      rows.length === stored.size &&
      confirmedButMissing === 0 &&
      storedButNeverSent === 0 &&
      storedUnanswered <= ledger.cutOff &&
      rows.length === ledger.confirmed.size + storedUnanswered,
  }
}

export function describeStorage(name: string, storage: StorageCheck): string {
  return (
    `storage check, ${name}: ${storage.answered201} events answered 201 (warm-up and measured), ` +
    `${storage.stored} stored = ${storage.answered201} + ${storage.storedUnanswered} of requests still in ` +
    `flight when a run stopped (${storage.cutOffInFlight} were); answered 201 but not stored: ` +
    `${storage.confirmedButMissing}; stored but never sent: ${storage.storedButNeverSent}: ` +
    `${storage.ok ? 'OK' : 'FAILED'}`
  )
}
