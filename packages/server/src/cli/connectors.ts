// CLI commands on the connectors of square and shopify sources: their dead letters (list, replay) and
// reconciliation on demand. A reconciliation is carried out by the running servers (any replica takes it);
// with --wait the command follows its progress, pages and objects, on stderr until it completes.
import { setTimeout as sleep } from 'node:timers/promises'
import { MAX_PAGE_LIMIT } from '@pos/contracts/pagination'
import type { ConnectorsService } from '../modules/connectors/service.js'
import { CursorSeal } from '../platform/pagination.js'
import { type CliContext, type CommandGroup, table, UsageError } from './command.js'

const POLL_MS = 500
const BAR_WIDTH = 20

/** Loaded only when a connector command runs: the other commands do not pay for the write path's modules. */
async function connectorsOf({ database, log, secrets, services }: CliContext): Promise<ConnectorsService> {
  const [{ ConnectorsService }, { ConnectorsRepository }, { PROVIDERS }, { IngestService }] =
    await Promise.all([
      import('../modules/connectors/service.js'),
      import('../modules/connectors/repository.js'),
      import('../modules/connectors/providers.js'),
      import('../modules/ingest/service.js'),
    ])
  return new ConnectorsService(
    new ConnectorsRepository(database.db),
    services.sources,
    new IngestService(database, log, { concurrency: 1, overlapEvents: 0 }),
    PROVIDERS,
    CursorSeal.of(secrets),
  )
}

/** A line that redraws itself: a bar that fills as pages come (its total is unknown), pages and objects. */
function progressLine(pages: number, objects: number, drift: number): string {
  const filled = pages % (BAR_WIDTH + 1)
  return `\r[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] pages ${pages}, objects ${objects}, drift ${drift}`
}

export const connectorCommands: CommandGroup = {
  'connector:dead-letters': {
    args: ['tenantId', 'sourceId'],
    summary: "Lists a square or shopify source's webhooks that could not be fetched or mapped",
    prepare([tenantId = '', sourceId = '']) {
      return async (context) => {
        const letters = await (await connectorsOf(context)).listDeadLetters(tenantId, sourceId, {
          limit: MAX_PAGE_LIMIT,
        })
        const data = letters.data.map((letter) => ({ ...letter, id: String(letter.id) }))
        const rows = data.map((l) => [
          l.id,
          l.topic,
          l.providerEventId,
          l.reason ?? '',
          l.updatedAt.toISOString(),
        ])
        return { json: { data }, text: table(['ID', 'TOPIC', 'EVENT', 'REASON', 'FAILED'], rows) }
      }
    },
  },
  'connector:replay': {
    args: ['tenantId', 'sourceId', 'deadLetterId'],
    summary: 'Processes a dead letter again (by any running server), with a fresh count of attempts',
    prepare([tenantId = '', sourceId = '', id = '']) {
      if (!/^\d{1,15}$/.test(id)) throw new UsageError('invalid deadLetterId: must be a number')
      return async (context) => {
        await (await connectorsOf(context)).replayDeadLetter(tenantId, sourceId, Number(id))
        return { json: { replayed: id }, text: `Dead letter ${id} will be processed again\n` }
      }
    },
  },
  'connector:reconcile': {
    args: ['tenantId', 'sourceId'],
    options: { wait: 'SECONDS' },
    summary:
      'Starts a reconciliation of a square or shopify source (or shows the running one); --wait follows its progress',
    prepare([tenantId = '', sourceId = ''], options) {
      const wait = options.wait === undefined ? 0 : Number(options.wait)
      if (!Number.isInteger(wait) || wait < 0 || wait > 86_400)
        throw new UsageError('invalid wait: must be 0 to 86400 seconds')
      return async (context) => {
        const connectors = await connectorsOf(context)
        const { reconciliationView } = await import('../modules/connectors/routes.js')
        let run = await connectors.requestReconciliation(tenantId, sourceId, 'cli')
        const deadline = Date.now() + wait * 1000
        while (run.status === 'running' && Date.now() < deadline) {
          process.stderr.write(progressLine(run.pages, run.objects, run.drift))
          await sleep(POLL_MS)
          run = await connectors.getReconciliation(tenantId, sourceId, run.id)
        }
        if (wait > 0) process.stderr.write(`${progressLine(run.pages, run.objects, run.drift)}\n`)
        const view = reconciliationView(run)
        const text =
          view.status === 'completed'
            ? `Reconciliation ${view.id} completed: ${view.pages} pages, ${view.objects} objects, drift ${view.drift} (${(view.driftRatio * 100).toFixed(2)} %), ${view.unmappable} unmappable\n`
            : `Reconciliation ${view.id} is running (${view.pages} pages, ${view.objects} objects so far); the servers carry it out\n`
        return { json: view, text }
      }
    },
  },
}
