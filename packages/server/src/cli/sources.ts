// CLI commands on a tenant's sources (where events come from): create, list, delete.
import { SOURCE_KINDS } from '../db/schema.js'
import { CreateSourceBody, sourceView } from '../modules/sources/schemas.js'
import { type CommandGroup, table, validated } from './command.js'

export const sourceCommands: CommandGroup = {
  'source:create': {
    args: ['tenantId', 'name', 'kind'],
    options: { 'signing-secret': 'SECRET' },
    summary: `Creates a source of kind ${SOURCE_KINDS.join('|')}; signed with --signing-secret`,
    prepare([tenantId = '', name, kind], options) {
      const signingSecret = options['signing-secret']
      const body = validated(CreateSourceBody, {
        name,
        kind,
        ...(signingSecret !== undefined && { signingSecret }),
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
