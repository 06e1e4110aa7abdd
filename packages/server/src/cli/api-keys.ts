// CLI commands on a tenant's API keys: create (the key is shown once), list, revoke.
import { CreateApiKeyBody, SCOPES } from '@pos/contracts/admin'
import { apiKeyView, createdApiKeyView } from '../modules/api-keys/schemas.js'
import { type CommandGroup, table, validated } from './command.js'

export const apiKeyCommands: CommandGroup = {
  'key:create': {
    args: ['tenantId', 'name'],
    options: { scopes: 'ingest,read' },
    summary: `Creates an API key; --scopes from ${SCOPES.join(',')} (default: all)`,
    prepare([tenantId = '', name], options) {
      const scopes = options.scopes?.split(',').map((scope) => scope.trim())
      const body = validated(CreateApiKeyBody, { name, ...(scopes && { scopes }) })
      return async ({ services }) => {
        const key = createdApiKeyView(await services.apiKeys.createApiKey(tenantId, body))
        return {
          json: key,
          text:
            `Created API key "${key.name}" (${key.id}) with scopes ${key.scopes.join(', ')}:\n` +
            `${key.key}\n` +
            'The key is shown only now: it is not stored and cannot be shown again.\n',
        }
      }
    },
  },
  'key:list': {
    args: ['tenantId'],
    summary: "Lists a tenant's API keys",
    prepare([tenantId = '']) {
      return async ({ services }) => {
        const data = (await services.apiKeys.listApiKeys(tenantId)).map(apiKeyView)
        const header = ['ID', 'NAME', 'PREFIX', 'SCOPES', 'CREATED', 'REVOKED']
        const rows = data.map((k) => [
          k.id,
          k.name,
          k.prefix,
          k.scopes.join(','),
          k.createdAt,
          k.revokedAt ?? '',
        ])
        return { json: { data }, text: table(header, rows) }
      }
    },
  },
  'key:revoke': {
    args: ['tenantId', 'keyId'],
    summary: 'Revokes an API key',
    prepare([tenantId = '', keyId = '']) {
      return async ({ services }) => {
        const key = apiKeyView(await services.apiKeys.revokeApiKey(tenantId, keyId))
        return { json: key, text: `Revoked API key "${key.name}" (${key.id}) at ${key.revokedAt}\n` }
      }
    },
  },
}
