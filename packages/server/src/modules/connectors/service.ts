// The connectors decide here: whether an inbound provider webhook is stored (its signature verified by the
// source's provider, once per provider event id), what the admin sees and can do (dead letters and their
// replay, reconciliation runs), and how mapped events reach the store: through IngestService.record, the
// same write path, event log, projections and dedup as POST /v1/ingest, under the connector source's name.

import type { IncomingHttpHeaders } from 'node:http'
import type { ConnectorKind } from '@pos/contracts/admin'
import { type IngestBody, MAX_EVENTS_PER_REQUEST } from '@pos/contracts/events'
import { DEFAULT_PAGE_LIMIT, type PageQuery } from '@pos/contracts/pagination'
import { sqlState } from '../../platform/database-errors.js'
import { connectorDeadLetters } from '../../platform/metrics.js'
import { type CursorCodec, type CursorSeal, idCursor } from '../../platform/pagination.js'
import { ProblemError } from '../../platform/problems.js'
import { validateEventData } from '../ingest/events.js'
import type { IngestService } from '../ingest/service.js'
import type { ConnectorSource } from '../sources/repository.js'
import type { SourcesService } from '../sources/service.js'
import { connectorConfig, isConnectorKind } from './config.js'
import { type CanonicalEvent, type Mapped, Unmappable } from './provider.js'
import { type BoundProvider, bindProvider, type ProviderRegistry } from './providers.js'
import type { ConnectorsRepository, DeadLetterRecord, RunRecord } from './repository.js'

/**
 * Deeper than this, a provider webhook is refused before it is stored: providers send a few levels, and the
 * inbox's jsonb is written through JSON.stringify, which runs out of stack some thousands of levels down.
 */
const MAX_WEBHOOK_DEPTH = 64

/** Whether `value` nests objects or arrays deeper than `max` levels; iterative, so any depth is safe to ask. */
function nestedDeeperThan(value: unknown, max: number): boolean {
  const pending: [unknown, number][] = [[value, 1]]
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [node, depth] = next
    if (node === null || typeof node !== 'object') continue
    if (depth > max) return true
    for (const child of Object.values(node)) pending.push([child, depth + 1])
  }
  return false
}

export type WebhookReceipt = 'stored' | 'duplicate' | 'unverified' | 'no-event-id'

/** A connector source ready to work with: the source and its provider over its configuration. */
export interface ActiveConnector {
  readonly source: ConnectorSource
  readonly provider: BoundProvider
}

export class ConnectorsService {
  readonly #deadLetterCursors: CursorCodec<number>

  constructor(
    private readonly repository: ConnectorsRepository,
    private readonly sources: SourcesService,
    private readonly ingest: IngestService,
    private readonly registry: ProviderRegistry,
    /** Seals the dead letters' cursors (CursorSeal.of the process's secrets). */
    cursors: CursorSeal,
  ) {
    this.#deadLetterCursors = idCursor('connector-dead-letters', cursors)
  }

  /**
   * The source of this id as a connector of `kind`, with its provider; undefined when it is not one (no such
   * source, another kind, not configured, or no provider registered for its kind).
   */
  async activeConnector(
    sourceId: string,
    kind?: ConnectorKind,
    tenantId?: string,
  ): Promise<ActiveConnector | undefined> {
    const source = await this.sources.findConnectorSource(sourceId, tenantId)
    if (source === undefined || source.connector === null || !isConnectorKind(source.kind)) return undefined
    if (kind !== undefined && source.kind !== kind) return undefined
    const provider = bindProvider(connectorConfig(source.kind, source.connector), this.registry)
    return provider && { source, provider }
  }

  /**
   * Stores a provider webhook in the inbox if the source's provider verifies its raw body; an unknown source
   * and a bad signature are alike ('unverified'). A redelivery (same provider event id) is 'duplicate'.
   */
  async receiveWebhook(
    kind: ConnectorKind,
    sourceId: string,
    rawBody: Buffer,
    headers: IncomingHttpHeaders,
    payload: unknown,
  ): Promise<WebhookReceipt> {
    const connector = await this.activeConnector(sourceId, kind)
    if (connector === undefined || !connector.provider.verify(rawBody, headers)) return 'unverified'
    const { provider, source } = connector
    const providerEventId = provider.eventId(headers, payload)
    const topic = provider.topic(headers, payload)
    if (providerEventId === undefined || topic === undefined) return 'no-event-id'
    if (nestedDeeperThan(payload, MAX_WEBHOOK_DEPTH)) {
      throw new ProblemError('unstorable-data', `The webhook nests more than ${MAX_WEBHOOK_DEPTH} levels`)
    }
    const stored = await this.repository
      .insertInbox({
        tenantId: source.tenantId,
        sourceId: source.id,
        provider: kind,
        providerEventId,
        topic,
        payload,
      })
      .catch((err: unknown) => {
        // A data exception (class 22): PostgreSQL's jsonb refuses what JSON allows, such as \u0000 in a string.
        if (sqlState(err)?.startsWith('22')) {
          throw new ProblemError(
            'unstorable-data',
            'The webhook holds a value that cannot be stored, such as U+0000',
          )
        }
        throw err
      })
    return stored ? 'stored' : 'duplicate'
  }

  /**
   * Writes what a provider mapped (recordEvents), then the provider state it saves only once its events are
   * stored; answers how many events were new to the store.
   */
  async recordMapped(source: ConnectorSource, mapped: Mapped): Promise<number> {
    const accepted = await this.recordEvents(source, mapped.events)
    const state = this.repository.stateOf(source.id)
    for (const [key, value] of Object.entries(mapped.stateAfter ?? {})) await state.set(key, value)
    return accepted
  }

  /**
   * Writes mapped events through the ingest write path; answers how many were new to the store (the rest
   * were stored before: duplicates). Events the write path refuses make the whole lot Unmappable.
   */
  async recordEvents(source: ConnectorSource, events: readonly CanonicalEvent[]): Promise<number> {
    let accepted = 0
    for (let start = 0; start < events.length; start += MAX_EVENTS_PER_REQUEST) {
      const chunk = events.slice(start, start + MAX_EVENTS_PER_REQUEST)
      const tooLong = chunk.find((event) => event.id.length > 255)
      if (tooLong !== undefined) throw new Unmappable(`event id ${tooLong.id.slice(0, 80)}… is too long`)
      const checked = validateEventData(
        chunk.map((event) => ({
          id: event.id,
          type: event.type,
          occurredAt: event.occurredAt,
          data: event.data as Record<string, unknown>,
        })) as unknown as IngestBody['events'],
      )
      if ('issue' in checked) {
        const { pointer, message } = checked.issue
        const index = Number(pointer.split('/')[2])
        throw new Unmappable(
          `event ${chunk[index]?.id ?? ''} does not map: ${pointer.replace(/^\/events\/\d+/, '')} ${message}`,
        )
      }
      const result = await this.ingest.record({
        tenantId: source.tenantId,
        sourceId: source.id,
        sourceName: source.name,
        idempotencyKey: undefined,
        fingerprint: '',
        events: checked.events,
      })
      if (result.kind === 'rejected') throw new Unmappable(`the store refused the events: ${result.detail}`)
      if (result.kind === 'created' || result.kind === 'replayed') accepted += result.acceptedIds.length
    }
    return accepted
  }

  /** One page of the source's dead letters, newest first. */
  async listDeadLetters(
    tenantId: string,
    sourceId: string,
    query: PageQuery = { limit: DEFAULT_PAGE_LIMIT },
  ): Promise<{ data: DeadLetterRecord[]; nextCursor: string | null }> {
    const page = this.#deadLetterCursors.request(query)
    await this.#connectorSource(tenantId, sourceId)
    return this.#deadLetterCursors.page(await this.repository.listDeadLetters(sourceId, page))
  }

  /** Makes a dead letter pending again, to be processed at once by any replica. */
  async replayDeadLetter(tenantId: string, sourceId: string, id: number): Promise<void> {
    const source = await this.#connectorSource(tenantId, sourceId)
    const replay = Number.isSafeInteger(id) ? await this.repository.replayDeadLetter(sourceId, id) : 'absent'
    if (replay === 'absent') throw new ProblemError('not-found', `No dead letter ${id}`)
    if (replay === 'reconciliation')
      throw new ProblemError(
        'conflict',
        `Dead letter ${id} is an object a reconciliation could not map, not a webhook: fix it at the provider and the next reconciliation finds it again`,
      )
    connectorDeadLetters.dec({ provider: source.kind })
  }

  /** The source's running reconciliation, started now when there is none. */
  async requestReconciliation(tenantId: string, sourceId: string, trigger: string): Promise<RunRecord> {
    const source = await this.#connectorSource(tenantId, sourceId)
    if (source.connector === null)
      throw new ProblemError('conflict', `Source ${sourceId} has no connector configured`)
    return this.repository.requestRun(tenantId, sourceId, trigger)
  }

  async listReconciliations(tenantId: string, sourceId: string): Promise<RunRecord[]> {
    await this.#connectorSource(tenantId, sourceId)
    return this.repository.listRuns(sourceId, 20)
  }

  async getReconciliation(tenantId: string, sourceId: string, id: number): Promise<RunRecord> {
    await this.#connectorSource(tenantId, sourceId)
    const run = Number.isSafeInteger(id) ? await this.repository.findRun(sourceId, id) : undefined
    if (run === undefined) throw new ProblemError('not-found', `No reconciliation ${id}`)
    return run
  }

  /** A connector source of the tenant, else not-found (a foreign id is no different from an unknown one). */
  async #connectorSource(tenantId: string, sourceId: string): Promise<ConnectorSource> {
    const source = await this.sources.findConnectorSource(sourceId, tenantId)
    if (source === undefined || !isConnectorKind(source.kind))
      throw new ProblemError('not-found', `No square or shopify source ${sourceId}`)
    return source
  }
}
