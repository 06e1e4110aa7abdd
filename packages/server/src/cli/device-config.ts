// CLI commands on the remote configuration of a tenant's devices (GET /v1/config): show it, and change the
// tenant's settings or a source's overrides (`null` clears a field, so the level above applies).
import { DeviceConfigPatch } from '@pos/contracts/device-config'
import type { DeviceConfigLevel } from '../modules/device-config/service.js'
import { type CommandGroup, validated } from './command.js'

/** The options of device-config:set, by the field each sets, and how its text becomes a value. */
const SETTING_OPTIONS = {
  syncEnabled: ['sync-enabled', 'true|false|null'],
  minFlushIntervalSec: ['min-flush-interval-sec', 'SECONDS|null'],
  maxBatchSize: ['max-batch-size', 'N|null'],
  retryCap: ['retry-cap', 'SECONDS|null'],
  maintenanceMode: ['maintenance-mode', 'true|false|null'],
  minSdkVersion: ['min-sdk-version', 'X.Y.Z|null'],
} as const

/** An option's text as a JSON value where it reads as one (null, true, 42), else as the string given. */
function optionValue(text: string): unknown {
  if (text === 'null' || text === 'true' || text === 'false' || /^-?\d+$/.test(text)) return JSON.parse(text)
  return text
}

function levelOutput(level: DeviceConfigLevel, what: string) {
  const json = { ...level, updatedAt: level.updatedAt?.toISOString() ?? null }
  const lines = Object.entries(level.effective).map(([field, value]) => {
    const set = level.settings[field as keyof typeof level.settings]
    return `${field.padEnd(20)} ${JSON.stringify(value)}${set === null ? '' : ' (set here)'}`
  })
  return { json, text: `${what}:\n${lines.map((line) => `  ${line}\n`).join('')}` }
}

export const deviceConfigCommands: CommandGroup = {
  'device-config:show': {
    args: ['tenantId'],
    options: { source: 'SOURCE_ID' },
    summary:
      "Shows the configuration a tenant's devices get (of one source with --source), and what is set there",
    prepare([tenantId = ''], options) {
      const sourceId = options.source
      return async ({ services }) => {
        const level =
          sourceId === undefined
            ? await services.deviceConfig.getTenantLevel(tenantId)
            : await services.deviceConfig.getSourceLevel(tenantId, sourceId)
        return levelOutput(level, sourceId === undefined ? 'Tenant devices' : `Devices of source ${sourceId}`)
      }
    },
  },
  'device-config:set': {
    args: ['tenantId'],
    options: {
      source: 'SOURCE_ID',
      ...Object.fromEntries(Object.values(SETTING_OPTIONS).map(([option, value]) => [option, value])),
    },
    summary:
      "Changes a tenant's device settings (a source's overrides with --source); each option given replaces the stored value, null clears it",
    prepare([tenantId = ''], options) {
      const sourceId = options.source
      const given = Object.entries(SETTING_OPTIONS).flatMap(([field, [option]]) => {
        const text = options[option]
        return text === undefined ? [] : [[field, optionValue(text)] as const]
      })
      const patch = validated(DeviceConfigPatch, Object.fromEntries(given))
      return async ({ services }) => {
        const level =
          sourceId === undefined
            ? await services.deviceConfig.patchTenantLevel(tenantId, patch)
            : await services.deviceConfig.patchSourceLevel(tenantId, sourceId, patch)
        return levelOutput(level, sourceId === undefined ? 'Tenant devices' : `Devices of source ${sourceId}`)
      }
    },
  },
}
