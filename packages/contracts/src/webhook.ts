// Outbound webhooks: a tenant's endpoints (where its events are sent) and their deliveries with each attempt.
import { type Static, Type } from 'typebox'
import { EVENT_TYPES } from './events.js'

export const WebhookEventType = Type.Union(
  EVENT_TYPES.map((type) => Type.Literal(type)),
  { description: 'An event type of the log' },
)

const eventTypes = Type.Array(WebhookEventType, {
  minItems: 1,
  maxItems: EVENT_TYPES.length,
  uniqueItems: true,
  description: 'The event types sent to the endpoint; every type when absent',
})
const description = Type.String({ maxLength: 500 })
const url = Type.String({ minLength: 1, maxLength: 2000, description: 'https, reachable from the internet' })

export const NewWebhookEndpoint = Type.Object(
  { url, eventTypes: Type.Optional(eventTypes), description: Type.Optional(description) },
  { additionalProperties: false, title: 'NewWebhookEndpoint' },
)
export type NewWebhookEndpoint = Static<typeof NewWebhookEndpoint>

export const WebhookEndpointChange = Type.Object(
  {
    url: Type.Optional(url),
    eventTypes: Type.Optional(eventTypes),
    description: Type.Optional(Type.Union([description, Type.Null()])),
    enabled: Type.Optional(Type.Boolean({ description: 'true re-enables a disabled endpoint' })),
  },
  { additionalProperties: false, minProperties: 1, title: 'WebhookEndpointChange' },
)
export type WebhookEndpointChange = Static<typeof WebhookEndpointChange>

export const WebhookEndpoint = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    url: Type.String(),
    eventTypes: Type.Array(Type.String()),
    description: Type.Union([Type.String(), Type.Null()]),
    enabled: Type.Boolean(),
    disabledReason: Type.Union(
      [Type.Literal('manual'), Type.Literal('gone'), Type.Literal('failing'), Type.Null()],
      {
        description:
          'Why it is disabled: manual (PATCH enabled false), gone (it answered 410), failing (every attempt failed for 5 days)',
      },
    ),
    failingSince: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    createdAt: Type.String({ format: 'date-time' }),
  },
  { title: 'WebhookEndpoint' },
)
export type WebhookEndpoint = Static<typeof WebhookEndpoint>

export const WebhookCircuitBreaker = Type.Object(
  {
    state: Type.Union([Type.Literal('closed'), Type.Literal('open'), Type.Literal('half-open')], {
      description:
        'closed: deliveries go out; open: none does until retryAt; half-open: one probe at a time for the whole fleet',
    }),
    retryAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
      description: 'While open: when the first probe may go out',
    }),
  },
  { title: 'WebhookCircuitBreaker', description: "The endpoint's circuit breaker, as every replica sees it" },
)
export type WebhookCircuitBreaker = Static<typeof WebhookCircuitBreaker>

/** One endpoint as `GET /v1/webhook-endpoints/:endpointId` shows it: with its circuit breaker. */
export const WebhookEndpointDetail = Type.Intersect(
  [WebhookEndpoint, Type.Object({ circuitBreaker: WebhookCircuitBreaker })],
  { title: 'WebhookEndpointDetail' },
)
export type WebhookEndpointDetail = Static<typeof WebhookEndpointDetail>

/** The endpoint with its signing secret: only the answer to its creation and to a rotation. */
export const WebhookEndpointWithSecret = Type.Intersect(
  [WebhookEndpoint, Type.Object({ secret: Type.String({ description: 'whsec_…; shown only now' }) })],
  { title: 'WebhookEndpointWithSecret' },
)
export type WebhookEndpointWithSecret = Static<typeof WebhookEndpointWithSecret>

export const WebhookDeliveryStatus = Type.Union([
  Type.Literal('pending'),
  Type.Literal('succeeded'),
  Type.Literal('failed'),
])

export const WebhookAttempt = Type.Object(
  {
    attemptedAt: Type.String({ format: 'date-time' }),
    statusCode: Type.Union([Type.Integer(), Type.Null()]),
    durationMs: Type.Integer(),
    error: Type.Union([Type.String(), Type.Null()]),
  },
  { title: 'WebhookAttempt' },
)

export const WebhookDelivery = Type.Object(
  {
    id: Type.String({ description: 'Also the webhook-id header, prefixed msg_' }),
    eventId: Type.String(),
    eventType: Type.String(),
    status: WebhookDeliveryStatus,
    nextAttemptAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    createdAt: Type.String({ format: 'date-time' }),
    attempts: Type.Array(WebhookAttempt),
  },
  { title: 'WebhookDelivery' },
)
export type WebhookDelivery = Static<typeof WebhookDelivery>
