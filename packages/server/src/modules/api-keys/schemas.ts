// The admin API of API keys around its shapes (in @pos/contracts/admin): the functions that turn stored keys
// into answers, and the examples. A key itself appears in one answer only, its creation's.
import type { ApiKey, ApiKeyList, CreateApiKeyBody, CreatedApiKey } from '@pos/contracts/admin'
import { oneExample } from '@pos/contracts/examples'
import type { ApiKeyRecord } from './repository.js'
import type { CreatedApiKey as CreatedApiKeyRecord } from './service.js'

export function apiKeyView(key: ApiKeyRecord): ApiKey {
  return {
    id: key.id,
    name: key.name,
    prefix: key.prefix,
    scopes: [...key.scopes],
    createdAt: key.createdAt.toISOString(),
    revokedAt: key.revokedAt?.toISOString() ?? null,
  }
}

export function createdApiKeyView(key: CreatedApiKeyRecord): CreatedApiKey {
  return {
    id: key.id,
    key: key.key,
    prefix: key.prefix,
    scopes: [...key.scopes],
    name: key.name,
    createdAt: key.createdAt.toISOString(),
  }
}

const exampleKey: ApiKey = {
  id: '3c9e7a51-8f2d-4b06-a1e4-5d7b9c0f2e68',
  name: 'berlin-1 till',
  prefix: 'pos_xxxxxxxxxxxx',
  scopes: ['ingest', 'read'],
  createdAt: '2026-11-01T08:35:00.000Z',
  revokedAt: null,
}
export const createApiKeyExamples = oneExample<CreateApiKeyBody>(
  'A key for a till: it sends events and reads them back',
  { name: 'berlin-1 till', scopes: ['ingest', 'read'] },
)
export const createdApiKeyExamples = oneExample<CreatedApiKey>(
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
export const apiKeyListExamples = oneExample<ApiKeyList>('A key in use and a revoked one', {
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
