// The shapes of the admin API: what it accepts (validated by the HTTP layer and by the CLI alike) and what it
// answers, with the functions that turn stored records into those answers. Secrets never appear in an answer
// except the API key at its creation.
import { type Static, Type } from '@fastify/type-provider-typebox'
import { PROBLEM_CONTENT_TYPE, Problem } from '../../contracts/problem.js'
import { SCOPES, SOURCE_KINDS } from '../../db/schema.js'
import type { ApiKeyRecord, SourceRecord, TenantRecord } from './repository.js'
import type { CreatedApiKey } from './service.js'

// Ids are plain strings: a malformed id names nothing and is answered 404, like an unknown one.
export const TenantParams = Type.Object({ tenantId: Type.String() })
export const ApiKeyParams = Type.Object({ tenantId: Type.String(), keyId: Type.String() })
export const SourceParams = Type.Object({ tenantId: Type.String(), sourceId: Type.String() })

const Id = Type.String({ format: 'uuid' })
const Timestamp = Type.String({ format: 'date-time' })
// PostgreSQL text cannot hold NUL, and a name or secret has no use for control characters at all.
const NO_CONTROL_CHARACTERS = '^[^\\u0000-\\u001f\\u007f]*$'
const DisplayName = Type.String({ minLength: 1, maxLength: 200, pattern: NO_CONTROL_CHARACTERS })

export const Scope = Type.Enum(SCOPES)
export const SourceKind = Type.Enum(SOURCE_KINDS)
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

export const CreateTenantBody = Type.Object({ name: DisplayName }, { additionalProperties: false })

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

export const Tenant = Type.Object({
  id: Id,
  name: Type.String(),
  rateLimit: Type.Union([RateLimitBody, Type.Null()], {
    description: "The tenant's own limit per API key; null: the service's default",
  }),
  createdAt: Timestamp,
})
export const TenantList = Type.Object({ data: Type.Array(Tenant) })

export const CreateApiKeyBody = Type.Object(
  {
    name: DisplayName,
    scopes: Type.Optional(
      Type.Array(Scope, { minItems: 1, uniqueItems: true, description: 'Default: every scope.' }),
    ),
  },
  { additionalProperties: false },
)

export const ApiKey = Type.Object({
  id: Id,
  name: Type.String(),
  prefix: Type.String({ description: 'The public start of the key, to tell keys apart.' }),
  scopes: Type.Array(Scope),
  createdAt: Timestamp,
  revokedAt: Type.Union([Timestamp, Type.Null()]),
})
export const ApiKeyList = Type.Object({ data: Type.Array(ApiKey) })

export const CreatedApiKeyResponse = Type.Object({
  id: Id,
  key: Type.String({
    description: 'The API key. Returned only now: it is not stored and cannot be shown again.',
  }),
  prefix: Type.String(),
  scopes: Type.Array(Scope),
  name: Type.String(),
  createdAt: Timestamp,
})

export const CreateSourceBody = Type.Object(
  { name: SourceName, kind: SourceKind, signingSecret: Type.Optional(SigningSecret) },
  { additionalProperties: false },
)

export const RotateSecretBody = Type.Object({ signingSecret: SigningSecret }, { additionalProperties: false })

export const Source = Type.Object({
  id: Id,
  name: Type.String(),
  kind: SourceKind,
  signed: Type.Boolean({ description: 'Whether requests from this source must carry a signature.' }),
  createdAt: Timestamp,
})
export const SourceList = Type.Object({ data: Type.Array(Source) })

/** An error answer for the OpenAPI document; where a route gives one, it wins over the derived one. */
const problem = (description: string) => ({
  description,
  content: { [PROBLEM_CONTENT_TYPE]: { schema: Problem } },
})
export const Unauthorized = problem('The admin token is missing or wrong (`unauthorized`)')
export const NotFound = problem('No such tenant, API key or source in this tenant (`not-found`)')
export const Invalid = problem('The body breaks the schema (`validation-failed`)')
export const Conflict = problem('The tenant already has a source of that name (`conflict`)')
export const NoContent = Type.Null({ description: 'Done; no body' })

export function tenantView(tenant: TenantRecord): Static<typeof Tenant> {
  return {
    id: tenant.id,
    name: tenant.name,
    rateLimit: tenant.rateLimit && { ...tenant.rateLimit },
    createdAt: tenant.createdAt.toISOString(),
  }
}

export function apiKeyView(key: ApiKeyRecord): Static<typeof ApiKey> {
  return {
    id: key.id,
    name: key.name,
    prefix: key.prefix,
    scopes: [...key.scopes],
    createdAt: key.createdAt.toISOString(),
    revokedAt: key.revokedAt?.toISOString() ?? null,
  }
}

export function createdApiKeyView(key: CreatedApiKey): Static<typeof CreatedApiKeyResponse> {
  return {
    id: key.id,
    key: key.key,
    prefix: key.prefix,
    scopes: [...key.scopes],
    name: key.name,
    createdAt: key.createdAt.toISOString(),
  }
}

export function sourceView(source: SourceRecord): Static<typeof Source> {
  return {
    id: source.id,
    name: source.name,
    kind: source.kind,
    signed: source.signed,
    createdAt: source.createdAt.toISOString(),
  }
}
