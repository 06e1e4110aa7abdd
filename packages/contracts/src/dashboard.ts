// What the dashboard (packages/dashboard) reads from the admin API that no other client does: the session it
// signs in for, and the replica's live figures its overview shows.
import { type Static, Type } from 'typebox'

export const SignInBody = Type.Object(
  { token: Type.String({ minLength: 1, maxLength: 1000, description: 'The ADMIN_TOKEN' }) },
  { additionalProperties: false },
)

export const Session = Type.Object({
  csrfToken: Type.Union([Type.String(), Type.Null()], {
    description: 'Send it as X-CSRF-Token with every change made with the session cookie; null without one',
  }),
  expiresAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
})
export type Session = Static<typeof Session>

const rate = (description: string) => Type.Number({ minimum: 0, description })
const nullable = <T extends ReturnType<typeof Type.Number>>(schema: T) => Type.Union([schema, Type.Null()])

const Check = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('failed'), Type.Literal('degraded')]),
  latencyMs: Type.Number(),
  error: Type.Optional(Type.String()),
})

export const Stats = Type.Object({
  at: Type.String({ format: 'date-time' }),
  windowSeconds: Type.Number({ description: 'The rates are averages over this window, up to now' }),
  ingest: Type.Object({
    requestsPerSecond: rate('Ingest requests answered per second'),
    eventsPerSecond: rate('Events received per second, every outcome'),
    dedupRate: nullable(Type.Number({ description: 'Share of the events received that were duplicates' })),
    replaysPerSecond: rate('Ingest requests answered as replays of an Idempotency-Key'),
    groupCommitSize: nullable(Type.Number({ description: 'Mean requests per group commit' })),
  }),
  http: Type.Object({
    requestsPerSecond: rate('Requests answered per second, every route'),
    clientErrorsPerSecond: rate('4xx answers per second'),
    serverErrorsPerSecond: rate('5xx answers per second'),
    rateLimitedPerSecond: rate('429 answers per second'),
    p95LatencyMs: nullable(Type.Number({ description: 'Upper bound of the histogram bucket of the P95' })),
    inFlight: Type.Integer({ description: 'Requests received and not yet answered, this one included' }),
  }),
  totals: Type.Object({
    requests: Type.Integer(),
    ingestRequests: Type.Integer(),
    events: Type.Integer(),
    duplicates: Type.Integer(),
  }),
  health: Type.Record(Type.String(), Check),
  outbound: Type.Object({
    openBreakers: Type.Record(Type.String(), Type.Integer(), {
      description: 'Per kind of target, the breakers this replica last saw open or half-open',
    }),
  }),
  connectors: Type.Object({
    deadLetters: Type.Record(Type.String(), Type.Integer(), {
      description: 'Per provider, the provider webhooks in the dead letters, fleet-wide',
    }),
    reconciliationDrift: Type.Record(Type.String(), Type.Number(), {
      description: 'Per provider, the share of objects the last reconciliation found missing',
    }),
  }),
})
export type Stats = Static<typeof Stats>
