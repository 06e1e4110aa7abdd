// CLI commands on a tenant's sources (where events come from): create, list, delete.
import { ConnectorPatch, CreateSourceBody, SOURCE_KINDS } from '@pos/contracts/admin'
import { sourceView } from '../modules/sources/schemas.js'
import { type CommandGroup, table, validated } from './command.js'

/** The connector options of the CLI, by the connector field each sets. */
const CONNECTOR_OPTIONS = {
  signatureKey: 'signature-key',
  notificationUrl: 'notification-url',
  accessToken: 'access-token',
  baseUrl: 'base-url',
  shopDomain: 'shop-domain',
  webhookSecret: 'webhook-secret',
  apiVersion: 'api-version',
} as const
const connectorOptions = Object.fromEntries(
  Object.values(CONNECTOR_OPTIONS).map((option) => [option, 'VALUE']),
)

/** The connector fields given as options; undefined when none was. */
function connectorFields(options: Readonly<Record<string, string | undefined>>) {
  const fields = Object.fromEntries(
    Object.entries(CONNECTOR_OPTIONS)
      .map(([field, option]) => [field, options[option]])
      .filter(([, value]) => value !== undefined),
  ) as Record<string, string>
  return Object.keys(fields).length === 0 ? undefined : fields
}

export const sourceCommands: CommandGroup = {
  'source:create': {
    args: ['tenantId', 'name', 'kind'],
    options: { 'signing-secret': 'SECRET', ...connectorOptions },
    summary: `Creates a source of kind ${SOURCE_KINDS.join('|')}; signed with --signing-secret; a square source takes --signature-key, --notification-url, --access-token [--base-url], a shopify one --shop-domain, --webhook-secret, --access-token [--api-version --base-url]`,
    prepare([tenantId = '', name, kind], options) {
      const signingSecret = options['signing-secret']
      const connector = connectorFields(options)
      const body = validated(CreateSourceBody, {
        name,
        kind,
        ...(signingSecret !== undefined && { signingSecret }),
        ...(connector !== undefined && { connector }),
      })
      return async ({ services }) => {
        const source = sourceView(await services.sources.createSource(tenantId, body))
        const signed = source.signed ? 'signed' : 'unsigned'
        return {
          json: source,
          text: `Created ${signed} ${source.kind} source "${source.name}": ${source.id}\n`,
        }
      }
    },
  },
  'source:connector': {
    args: ['tenantId', 'sourceId'],
    options: connectorOptions,
    summary: "Changes a square or shopify source's connector: the options given replace the stored values",
    prepare([tenantId = '', sourceId = ''], options) {
      const patch = validated(ConnectorPatch, connectorFields(options) ?? {})
      return async ({ services }) => {
        const source = sourceView(await services.sources.updateConnector(tenantId, sourceId, patch))
        return { json: source, text: `Updated the connector of ${source.kind} source "${source.name}"\n` }
      }
    },
  },
  'source:list': {
    args: ['tenantId'],
    summary: "Lists a tenant's sources",
    prepare([tenantId = '']) {
      return async ({ services }) => {
        const data = (await services.sources.listSources(tenantId)).map(sourceView)
        const rows = data.map((s) => [s.id, s.name, s.kind, s.signed ? 'yes' : 'no', s.createdAt])
        return { json: { data }, text: table(['ID', 'NAME', 'KIND', 'SIGNED', 'CREATED'], rows) }
      }
    },
  },
  'source:delete': {
    args: ['tenantId', 'sourceId'],
    summary: 'Deletes a source (the events it sent stay)',
    prepare([tenantId = '', sourceId = '']) {
      return async ({ services }) => {
        await services.sources.deleteSource(tenantId, sourceId)
        return { json: { deleted: sourceId }, text: `Deleted source ${sourceId}\n` }
      }
    },
  },
}
