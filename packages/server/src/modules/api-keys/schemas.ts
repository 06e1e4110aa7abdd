// The shapes of the admin API of API keys: what it accepts (validated by the HTTP layer and by the CLI alike)
// and what it answers, with the functions that turn stored keys into those answers. A key itself appears in
// one answer only, its creation's.
import { type Static, Type } from '@fastify/type-provider-typebox'
import { SCOPES } from '../../db/schema.js'
import { DisplayName, Id, Timestamp } from '../tenants/schemas.js'
import type { ApiKeyRecord } from './repository.js'
import type { CreatedApiKey } from './service.js'

export const ApiKeyParams = Type.Object({ tenantId: Type.String(), keyId: Type.String() })

export const Scope = Type.Enum(SCOPES)

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
