// The shapes of the admin API of API keys: what it accepts (validated by the HTTP layer and by the CLI alike)
// and what it answers, with the functions that turn stored keys into those answers. A key itself appears in
// one answer only, its creation's.
import { type Static, Type } from '@fastify/type-provider-typebox'
import { oneExample } from '@pos/contracts/examples'
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

const exampleKey: Static<typeof ApiKey> = {
  id: '3c9e7a51-8f2d-4b06-a1e4-5d7b9c0f2e68',
  name: 'berlin-1 till',
  prefix: 'pos_xxxxxxxxxxxx',
  scopes: ['ingest', 'read'],
  createdAt: '2026-11-01T08:35:00.000Z',
  revokedAt: null,
}
export const createApiKeyExamples = oneExample<Static<typeof CreateApiKeyBody>>(
  'A key for a till: it sends events and reads them back',
  { name: 'berlin-1 till', scopes: ['ingest', 'read'] },
)
export const createdApiKeyExamples = oneExample<Static<typeof CreatedApiKeyResponse>>(
  'The new key (a placeholder here), shown in this answer only',
  {
    id: exampleKey.id,
    key: 'pos_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
    prefix: exampleKey.prefix,
    scopes: exampleKey.scopes,
    name: exampleKey.name,
    createdAt: exampleKey.createdAt,
  },
)
export const apiKeyListExamples = oneExample<Static<typeof ApiKeyList>>('A key in use and a revoked one', {
  data: [
    exampleKey,
    {
      id: '7e1b4d92-6a3c-4f58-9d20-8b5e3f1a0c47',
      name: 'old webhook admin',
      prefix: 'pos_yyyyyyyyyyyy',
      scopes: ['webhooks'],
      createdAt: '2026-11-01T08:40:00.000Z',
      revokedAt: '2026-11-20T12:00:00.000Z',
    },
  ],
})
