// SQL for device configuration: the settings of a tenant (the row without a source) and the overrides of its
// sources. Every query is timed under `deviceConfig.<operation>`.
import type { DeviceConfigPatch, DeviceConfigSettings } from '@pos/contracts/device-config'
import { and, eq, isNull, or, sql } from 'drizzle-orm'
import { deviceConfigs } from '../../db/schema.js'
import type { Database } from '../../platform/database.js'
import { timedQuery } from '../../platform/metrics.js'

/** The settings of one level, as stored. */
export interface StoredSettings {
  readonly sourceId: string | null
  readonly settings: DeviceConfigSettings
  readonly updatedAt: Date
}

const settingsColumns = {
  syncEnabled: deviceConfigs.syncEnabled,
  minFlushIntervalSec: deviceConfigs.minFlushIntervalSec,
  maxBatchSize: deviceConfigs.maxBatchSize,
  retryCap: deviceConfigs.retryCap,
  maintenanceMode: deviceConfigs.maintenanceMode,
  minSdkVersion: deviceConfigs.minSdkVersion,
}

const storedColumns = {
  sourceId: deviceConfigs.sourceId,
  updatedAt: deviceConfigs.updatedAt,
  ...settingsColumns,
}

function stored(row: { sourceId: string | null; updatedAt: Date } & DeviceConfigSettings): StoredSettings {
  const { sourceId, updatedAt, ...settings } = row
  return { sourceId, updatedAt, settings }
}

export class DeviceConfigRepository {
  constructor(private readonly db: Database) {}

  /**
   * The tenant's settings and, when a source is named, its overrides: one query on the two unique indexes.
   * A level with nothing stored is absent.
   */
  findLevels(
    tenantId: string,
    sourceId: string | undefined,
  ): Promise<{ tenant?: StoredSettings; source?: StoredSettings }> {
    return timedQuery('deviceConfig.findLevels', async () => {
      const rows = await this.db
        .select(storedColumns)
        .from(deviceConfigs)
        .where(
          and(
            eq(deviceConfigs.tenantId, tenantId),
            sourceId === undefined
              ? isNull(deviceConfigs.sourceId)
              : or(isNull(deviceConfigs.sourceId), eq(deviceConfigs.sourceId, sourceId)),
          ),
        )
      const levels: { tenant?: StoredSettings; source?: StoredSettings } = {}
      for (const row of rows) {
        if (row.sourceId === null) levels.tenant = stored(row)
        else levels.source = stored(row)
      }
      return levels
    })
  }

  /** Writes the fields the patch gives (null clears one) into the level's row, creating it when needed. */
  patchLevel(tenantId: string, sourceId: string | null, patch: DeviceConfigPatch): Promise<StoredSettings> {
    return timedQuery('deviceConfig.patchLevel', async () => {
      const given = Object.fromEntries(
        Object.entries(patch).filter(([field, value]) => field in settingsColumns && value !== undefined),
      ) as DeviceConfigPatch
      const [row] = await this.db
        .insert(deviceConfigs)
        .values({ tenantId, sourceId, ...given })
        .onConflictDoUpdate({
          // Each level's row is unique by one of two partial indexes; the conflict names the one it hits.
          ...(sourceId === null
            ? { target: deviceConfigs.tenantId, targetWhere: sql`${deviceConfigs.sourceId} IS NULL` }
            : { target: deviceConfigs.sourceId, targetWhere: sql`${deviceConfigs.sourceId} IS NOT NULL` }),
          set: { ...given, updatedAt: sql`now()` },
        })
        .returning(storedColumns)
      if (row === undefined) throw new Error('INSERT … RETURNING returned no row')
      return stored(row)
    })
  }
}
