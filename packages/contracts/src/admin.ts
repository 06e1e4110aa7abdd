// The admin API's shapes (/v1/admin/tenants and what lives under a tenant: API keys, sources and their
// connectors), defined once: the server validates and documents with them, the dashboard types its calls with
// them, so a changed field breaks the dashboard's build instead of its pages.
import { type Static, Type } from 'typebox'
import { ListPage } from './pagination.js'

// Ids are plain strings in paths: a malformed id names nothing and is answered 404, like an unknown one.
export const TenantParams = Type.Object({ tenantId: Type.String() })
export const ApiKeyParams = Type.Object({ tenantId: Type.String(), keyId: Type.String() })
export const SourceParams = Type.Object({ tenantId: Type.String(), sourceId: Type.String() })

export const Id = Type.String({ format: 'uuid' })
export const Timestamp = Type.String({ format: 'date-time' })
// PostgreSQL text cannot hold NUL, and a name or secret has no use for control characters at all.
export const NO_CONTROL_CHARACTERS = '^[^\\u0000-\\u001f\\u007f]*$'
export const DisplayName = Type.String({ minLength: 1, maxLength: 200, pattern: NO_CONTROL_CHARACTERS })

// Tenants

export const CreateTenantBody = Type.Object({ name: DisplayName }, { additionalProperties: false })
export type CreateTenantBody = Static<typeof CreateTenantBody>

export const RateLimitBody = Type.Object(
  {
    max: Type.Integer({
      minimum: 1,
      maximum: 10_000_000,
      description: 'Requests per window for each API key',
    }),
    windowMs: Type.Integer({
      minimum: 1000,
      maximum: 86_400_000,
      multipleOf: 1000,
      description: 'Window length in milliseconds, a whole number of seconds',
    }),
  },
  { additionalProperties: false },
)
export type RateLimitBody = Static<typeof RateLimitBody>

export const Tenant = Type.Object({
  id: Id,
  name: Type.String(),
  rateLimit: Type.Union([RateLimitBody, Type.Null()], {
    description: "The tenant's own limit per API key; null: the service's default",
  }),
  createdAt: Timestamp,
})
export type Tenant = Static<typeof Tenant>
export const TenantList = ListPage(Tenant)
export type TenantList = Static<typeof TenantList>

// API keys

export const SCOPES = ['ingest', 'read', 'write', 'webhooks'] as const
export const Scope = Type.Enum(SCOPES)
export type Scope = Static<typeof Scope>

export const CreateApiKeyBody = Type.Object(
  {
    name: DisplayName,
    scopes: Type.Optional(
      Type.Array(Scope, { minItems: 1, uniqueItems: true, description: 'Default: every scope.' }),
    ),
  },
  { additionalProperties: false },
)
export type CreateApiKeyBody = Static<typeof CreateApiKeyBody>

export const ApiKey = Type.Object({
  id: Id,
  name: Type.String(),
  prefix: Type.String({ description: 'The public start of the key, to tell keys apart.' }),
  scopes: Type.Array(Scope),
  createdAt: Timestamp,
  revokedAt: Type.Union([Timestamp, Type.Null()]),
})
export type ApiKey = Static<typeof ApiKey>
export const ApiKeyList = ListPage(ApiKey)
export type ApiKeyList = Static<typeof ApiKeyList>

/** A key's creation answer, the one place its key appears. */
export const CreatedApiKey = Type.Object({
  id: Id,
  key: Type.String({
    description: 'The API key. Returned only now: it is not stored and cannot be shown again.',
  }),
  prefix: Type.String(),
  scopes: Type.Array(Scope),
  name: Type.String(),
  createdAt: Timestamp,
})
export type CreatedApiKey = Static<typeof CreatedApiKey>

// Connectors: what configures a square or shopify source. Secrets are accepted, never answered.

export const CONNECTOR_KINDS = ['square', 'shopify'] as const
export type ConnectorKind = (typeof CONNECTOR_KINDS)[number]

export const SQUARE_DEFAULT_BASE_URL = 'https://connect.squareup.com'
export const SHOPIFY_DEFAULT_API_VERSION = '2025-01'

const HttpUrl = (description: string) =>
  Type.String({ minLength: 8, maxLength: 2000, pattern: '^https?://[^\\s]+$', description })
const Secret = (description: string) =>
  Type.String({ minLength: 1, maxLength: 1024, pattern: NO_CONTROL_CHARACTERS, description })

const squareFields = {
  signatureKey: Secret(
    "The webhook subscription's signature key (Square Developer Console). Never returned.",
  ),
  notificationUrl: HttpUrl(
    'The notification URL exactly as the subscription names it: Square signs it with every webhook.',
  ),
  accessToken: Secret(
    'An access token of the seller, for the Orders, Catalog and Inventory APIs. Never returned.',
  ),
  baseUrl: HttpUrl(`Square's API; defaults to ${SQUARE_DEFAULT_BASE_URL}.`),
}
const shopifyFields = {
  shopDomain: Type.String({
    minLength: 1,
    maxLength: 255,
    pattern: '^[A-Za-z0-9][A-Za-z0-9.-]*(:\\d{1,5})?$',
    description: 'The shop, e.g. example.myshopify.com',
  }),
  webhookSecret: Secret("The app's client secret, which signs its webhooks. Never returned."),
  accessToken: Secret("The Admin API access token of the app's installation. Never returned."),
  apiVersion: Type.String({
    pattern: '^\\d{4}-\\d{2}$|^unstable$',
    description: `The Admin API version; defaults to ${SHOPIFY_DEFAULT_API_VERSION}.`,
  }),
  baseUrl: HttpUrl('The Admin API host; defaults to https://<shopDomain>.'),
}

/** A Square connector as given on creation (every field but baseUrl). */
export const SquareConnector = Type.Object(
  { ...squareFields, baseUrl: Type.Optional(squareFields.baseUrl) },
  { additionalProperties: false, title: 'SquareConnector' },
)
export type SquareConnector = Static<typeof SquareConnector>
/** A Shopify connector as given on creation (every field but apiVersion and baseUrl). */
export const ShopifyConnector = Type.Object(
  {
    ...shopifyFields,
    apiVersion: Type.Optional(shopifyFields.apiVersion),
    baseUrl: Type.Optional(shopifyFields.baseUrl),
  },
  { additionalProperties: false, title: 'ShopifyConnector' },
)
export type ShopifyConnector = Static<typeof ShopifyConnector>

/** The fields of each kind that are secrets: stored encrypted, never answered (a read names them in secretsSet). */
export const CONNECTOR_SECRETS = {
  square: ['signatureKey', 'accessToken'],
  shopify: ['webhookSecret', 'accessToken'],
} as const satisfies {
  readonly square: readonly (keyof SquareConnector)[]
  readonly shopify: readonly (keyof ShopifyConnector)[]
}

/** A whole Square connector, its defaults filled in: what a stored one must be after a creation or a change. */
export const CompleteSquareConnector = Type.Object(squareFields, { additionalProperties: false })
/** A whole Shopify connector, its defaults filled in. */
export const CompleteShopifyConnector = Type.Object(shopifyFields, { additionalProperties: false })

export const ConnectorInput = Type.Union([SquareConnector, ShopifyConnector], {
  description: "The connector of a square or shopify source: its kind's fields.",
})
export type ConnectorInput = Static<typeof ConnectorInput>

/** A change of a connector: the fields given replace the stored ones, the others stay. */
export const ConnectorPatch = Type.Partial(Type.Object({ ...squareFields, ...shopifyFields }), {
  additionalProperties: false,
  title: 'ConnectorPatch',
})
export type ConnectorPatch = Static<typeof ConnectorPatch>

/** What a read shows of a connector: its settings and which secrets are set, never their values. */
export const ConnectorView = Type.Object(
  {
    settings: Type.Record(Type.String(), Type.String(), {
      description: 'notificationUrl and baseUrl (square); shopDomain, apiVersion and baseUrl (shopify)',
    }),
    secretsSet: Type.Array(Type.String(), { description: 'The names of the secrets stored (encrypted)' }),
  },
  { title: 'ConnectorView' },
)
export type ConnectorView = Static<typeof ConnectorView>

export const ConnectorDeadLetter = Type.Object(
  {
    id: Type.String(),
    providerEventId: Type.String(),
    topic: Type.String(),
    reason: Type.Union([Type.String(), Type.Null()]),
    attempts: Type.Integer(),
    receivedAt: Timestamp,
    failedAt: Timestamp,
  },
  { title: 'ConnectorDeadLetter' },
)
export type ConnectorDeadLetter = Static<typeof ConnectorDeadLetter>

export const Reconciliation = Type.Object(
  {
    id: Type.String(),
    status: Type.Union([Type.Literal('running'), Type.Literal('completed')]),
    trigger: Type.String({ description: 'schedule, api or cli' }),
    since: Timestamp,
    pages: Type.Integer(),
    objects: Type.Integer({ description: 'Provider objects found (orders, counts)' }),
    drift: Type.Integer({ description: 'Objects found that webhooks had not delivered' }),
    driftRatio: Type.Number(),
    unmappable: Type.Integer({
      description: 'Objects found that could not be mapped: each is a dead letter (topic reconciliation)',
    }),
    lastError: Type.Union([Type.String(), Type.Null()]),
    startedAt: Timestamp,
    finishedAt: Type.Union([Timestamp, Type.Null()]),
  },
  { title: 'Reconciliation' },
)
export type Reconciliation = Static<typeof Reconciliation>
export const ReconciliationList = ListPage(Reconciliation)
export type ReconciliationList = Static<typeof ReconciliationList>

// Sources

export const SOURCE_KINDS = ['sdk', 'custom', ...CONNECTOR_KINDS] as const
export const SourceKind = Type.Enum(SOURCE_KINDS)
export type SourceKind = Static<typeof SourceKind>

export const SourceName = Type.String({
  pattern: '^[a-z0-9][a-z0-9-]{0,62}$',
  description: 'Slug used in ingest URLs: lowercase letters, digits and dashes. `api` is reserved.',
})
export const SigningSecret = Type.String({
  minLength: 16,
  maxLength: 256,
  pattern: NO_CONTROL_CHARACTERS,
  description: 'HMAC secret the source signs its requests with.',
})

export const CreateSourceBody = Type.Object(
  {
    name: SourceName,
    kind: SourceKind,
    signingSecret: Type.Optional(SigningSecret),
    connector: Type.Optional(ConnectorInput),
  },
  { additionalProperties: false },
)
export type CreateSourceBody = Static<typeof CreateSourceBody>

export const RotateSecretBody = Type.Object({ signingSecret: SigningSecret }, { additionalProperties: false })
export type RotateSecretBody = Static<typeof RotateSecretBody>

export const Source = Type.Object({
  id: Id,
  name: Type.String(),
  kind: SourceKind,
  signed: Type.Boolean({ description: 'Whether requests from this source must carry a signature.' }),
  connector: Type.Union([ConnectorView, Type.Null()], {
    description: 'A square or shopify source: its connector settings and which secrets are set',
  }),
  createdAt: Timestamp,
})
export type Source = Static<typeof Source>
export const SourceList = ListPage(Source)
export type SourceList = Static<typeof SourceList>
