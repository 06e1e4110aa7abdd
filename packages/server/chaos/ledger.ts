// What each load client of the chaos suite was told, request by request: the suite's own record of the
// promises the service made, checked afterwards against what the database holds.
import type { PosEvent } from '../bench/support/events.js'

/** One HTTP attempt of a request: a retry of the same request is a second attempt with the same key and bytes. */
export interface Attempt {
  /** The replica slot (0, 1, 2) the attempt went to. */
  readonly replica: number
  /** Wall-clock ms. */
  readonly startedAt: number
  readonly endedAt: number
  /** The HTTP status, or 'error' when no answer came (connection refused or reset, or the client's timeout). */
  readonly status: number | 'error'
  readonly retryAfter: string | null
  readonly replayed: boolean
  /** Why an unexpected answer came: its problem type, or the connection error's code. */
  readonly detail?: string
}

/** The stored and duplicate event ids of a 201, as the service listed them. */
export interface IngestAnswer {
  readonly eventIds: readonly string[]
  readonly duplicateEventIds: readonly string[]
}

export type RequestKind = 'new' | 'replay' | 'regrouped'

export interface RequestRecord {
  readonly kind: RequestKind
  readonly idempotencyKey: string
  /** The ids of the events in the body, in order. */
  readonly eventIds: readonly string[]
  readonly attempts: Attempt[]
  /** The 201 that ended the request, when one came; undefined when the client gave up or was refused. */
  answer?: IngestAnswer
  /** Answered as a replay of an earlier request with the same key (Idempotent-Replayed: true). */
  replayed?: boolean
}

/** One client (a till): its tenant, every event it ever put in a body, and its requests. */
export interface DeviceLedger {
  readonly device: string
  readonly tenantId: string
  readonly sent: Map<string, PosEvent>
  readonly requests: RequestRecord[]
}
