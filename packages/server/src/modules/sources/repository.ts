// SQL for sources, where a tenant's events come from. Every query is timed under `sources.<operation>`. A
// failed query's parameters (encrypted signing secrets) never reach the log: see platform/database-errors.ts.
// Signing secrets are encrypted here on the way in and decrypted on the way out (platform/secrets.ts), each
// bound to its source's id (sourceSigningSecretAad), so that the rest of the service only ever sees them in
// clear, in memory.
import { randomUUID } from 'node:crypto'
import type { SourceKind } from '@pos/contracts/admin'
import { and, asc, eq, sql } from 'drizzle-orm'
import { sourceConnectorSecretsAad, sourceSigningSecretAad, sources } from '../../db/schema.js'
import type { Database } from '../../platform/database.js'
import { FOREIGN_KEY_VIOLATION, sqlState, UNIQUE_VIOLATION } from '../../platform/database-errors.js'
import { timedQuery } from '../../platform/metrics.js'
import type { Secrets } from '../../platform/secrets.js'
import type { StoredConnector } from '../connectors/config.js'

export interface StoredSource {
  readonly id: string
  readonly tenantId: string
  readonly name: string
  readonly kind: SourceKind
  /** In clear: decrypted by findSource. */
  readonly signingSecrets: readonly string[]
}

/** A source as the admin sees it: whether it is signed, never its secrets. */
export interface SourceRecord {
  readonly id: string
  readonly tenantId: string
  readonly name: string
  readonly kind: SourceKind
  readonly signed: boolean
  /** A connector's settings (never its secrets); null when it has none. */
  readonly connectorSettings: Readonly<Record<string, string>> | null
  readonly createdAt: Date
}

/** A source with its connector configuration in clear (decrypted by findConnectorSource). */
export interface ConnectorSource {
  readonly id: string
  readonly tenantId: string
  readonly name: string
  readonly kind: SourceKind
  readonly connector: StoredConnector | null
}

export interface NewSourceRow {
  readonly name: string
  readonly kind: SourceKind
  readonly signingSecrets: readonly string[]
  readonly connector?: StoredConnector | undefined
}

/** Why a source was not created. */
export type SourceRefusal = 'unknown-tenant' | 'duplicate-name'

const sourceColumns = {
  id: sources.id,
  tenantId: sources.tenantId,
  name: sources.name,
  kind: sources.kind,
  signed: sql<boolean>`cardinality(${sources.encryptedSigningSecrets}) > 0`.as('signed'),
  connectorSettings: sql<Record<string, string> | null>`${sources.connectorSettings}`.as(
    'connector_settings',
  ),
  createdAt: sources.createdAt,
}

export class SourcesRepository {
  constructor(
    private readonly db: Database,
    private readonly secrets: Secrets,
  ) {}

  findSource(tenantId: string, name: string): Promise<StoredSource | undefined> {
    return timedQuery('sources.findSource', async () => {
      const rows = await this.db
        .select({
          id: sources.id,
          tenantId: sources.tenantId,
          name: sources.name,
          kind: sources.kind,
          encryptedSigningSecrets: sources.encryptedSigningSecrets,
        })
        .from(sources)
        .where(and(eq(sources.tenantId, tenantId), eq(sources.name, name)))
        .limit(1)
      const row = rows[0]
      if (row === undefined) return undefined
      const { encryptedSigningSecrets, ...source } = row
      const aad = sourceSigningSecretAad(source.id)
      return {
        ...source,
        signingSecrets: encryptedSigningSecrets.map((stored) => this.secrets.decrypt(stored, aad)),
      }
    })
  }

  createSource(tenantId: string, source: NewSourceRow): Promise<SourceRecord | SourceRefusal> {
    return timedQuery('sources.createSource', async () => {
      // The id is chosen here, not by the database: the encrypted secrets are bound to it.
      const id = randomUUID()
      const aad = sourceSigningSecretAad(id)
      const { signingSecrets, connector, ...columns } = source
      try {
        const [row] = await this.db
          .insert(sources)
          .values({
            id,
            tenantId,
            ...columns,
            encryptedSigningSecrets: signingSecrets.map((secret) => this.secrets.encrypt(secret, aad)),
            ...(connector === undefined ? {} : this.#connectorColumns(id, connector)),
          })
          .returning(sourceColumns)
        if (row === undefined) throw new Error('INSERT … RETURNING returned no row')
        return row
      } catch (err) {
        if (sqlState(err) === FOREIGN_KEY_VIOLATION) return 'unknown-tenant'
        if (sqlState(err) === UNIQUE_VIOLATION) return 'duplicate-name'
        throw err
      }
    })
  }

  /** A source by id with its connector decrypted; `tenantId` undefined: whichever tenant owns it. */
  findConnectorSource(sourceId: string, tenantId?: string): Promise<ConnectorSource | undefined> {
    return timedQuery('sources.findConnectorSource', async () => {
      const rows = await this.db
        .select({
          id: sources.id,
          tenantId: sources.tenantId,
          name: sources.name,
          kind: sources.kind,
          settings: sources.connectorSettings,
          encrypted: sources.encryptedConnectorSecrets,
        })
        .from(sources)
        .where(
          tenantId === undefined
            ? eq(sources.id, sourceId)
            : and(eq(sources.id, sourceId), eq(sources.tenantId, tenantId)),
        )
        .limit(1)
      const row = rows[0]
      if (row === undefined) return undefined
      const { settings, encrypted, ...source } = row
      const connector =
        settings === null || encrypted === null
          ? null
          : {
              settings: settings as Record<string, string>,
              secrets: JSON.parse(
                this.secrets.decrypt(encrypted, sourceConnectorSecretsAad(source.id)),
              ) as Record<string, string>,
            }
      return { ...source, connector }
    })
  }

  setConnector(
    tenantId: string,
    sourceId: string,
    connector: StoredConnector,
  ): Promise<SourceRecord | undefined> {
    return timedQuery('sources.setConnector', async () => {
      const [row] = await this.db
        .update(sources)
        .set(this.#connectorColumns(sourceId, connector))
        .where(and(eq(sources.tenantId, tenantId), eq(sources.id, sourceId)))
        .returning(sourceColumns)
      return row
    })
  }

  #connectorColumns(sourceId: string, connector: StoredConnector) {
    return {
      connectorSettings: connector.settings,
      encryptedConnectorSecrets: this.secrets.encrypt(
        JSON.stringify(connector.secrets),
        sourceConnectorSecretsAad(sourceId),
      ),
    }
  }

  listSources(tenantId: string): Promise<SourceRecord[]> {
    return timedQuery('sources.listSources', () =>
      this.db
        .select(sourceColumns)
        .from(sources)
        .where(eq(sources.tenantId, tenantId))
        .orderBy(asc(sources.createdAt), asc(sources.id)),
    )
  }

  deleteSource(tenantId: string, sourceId: string): Promise<boolean> {
    return timedQuery('sources.deleteSource', async () => {
      const rows = await this.db
        .delete(sources)
        .where(and(eq(sources.tenantId, tenantId), eq(sources.id, sourceId)))
        .returning({ id: sources.id })
      return rows.length > 0
    })
  }

  /**
   * Puts the secret first and keeps the newest of the old ones as the second, so that senders can switch over;
   * older ones are dropped: a source holds at most two.
   */
  rotateSigningSecret(tenantId: string, sourceId: string, secret: string): Promise<SourceRecord | undefined> {
    return timedQuery('sources.rotateSigningSecret', async () => {
      const [row] = await this.db
        .update(sources)
        .set({
          encryptedSigningSecrets: sql`array_prepend(${this.secrets.encrypt(secret, sourceSigningSecretAad(sourceId))}::text, ${sources.encryptedSigningSecrets}[1:1])`,
        })
        .where(and(eq(sources.tenantId, tenantId), eq(sources.id, sourceId)))
        .returning(sourceColumns)
      return row
    })
  }

  /** Keeps only the newest secret. */
  retirePreviousSigningSecret(tenantId: string, sourceId: string): Promise<SourceRecord | undefined> {
    return timedQuery('sources.retirePreviousSigningSecret', async () => {
      const [row] = await this.db
        .update(sources)
        .set({ encryptedSigningSecrets: sql`${sources.encryptedSigningSecrets}[1:1]` })
        .where(and(eq(sources.tenantId, tenantId), eq(sources.id, sourceId)))
        .returning(sourceColumns)
      return row
    })
  }
}
