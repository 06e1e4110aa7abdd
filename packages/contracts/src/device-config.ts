// Remote configuration of devices: what the SDK reads from GET /v1/config and obeys (whether to sync, how often
// and how much at a time, how long to back off at most, and which SDK versions are too old), and the shape in
// which an admin sets it per tenant and overrides it per source. One definition for the server and the SDK.
import { type Static, type TSchema, Type } from 'typebox'

/** A release number as x.y.z (semantic versioning, no pre-release part). */
export const SdkVersion = Type.String({
  pattern: '^(0|[1-9][0-9]{0,5})\\.(0|[1-9][0-9]{0,5})\\.(0|[1-9][0-9]{0,5})$',
  description: 'A version as x.y.z',
  examples: ['1.4.0'],
})

const fields = {
  syncEnabled: Type.Boolean({ description: 'False: devices keep queueing events but send none' }),
  minFlushIntervalSec: Type.Integer({
    minimum: 0,
    maximum: 86_400,
    description: 'The shortest time between two flushes of a device, in seconds',
  }),
  maxBatchSize: Type.Integer({
    minimum: 1,
    maximum: 500,
    description: 'The most events a device sends in one request (the ingest limit is 500)',
  }),
  retryCap: Type.Integer({
    minimum: 1,
    maximum: 86_400,
    description: 'The longest delay between two retries of a device, in seconds',
  }),
  maintenanceMode: Type.Boolean({
    description: 'True: the service is in maintenance; devices hold their events and poll again later',
  }),
  minSdkVersion: Type.Union([SdkVersion, Type.Null()], {
    description: 'Devices with an older SDK tell their app it must be updated; null: no minimum',
  }),
}

/** What GET /v1/config answers: the effective configuration of a tenant's devices (of one source). */
export const DeviceConfig = Type.Object(fields, { additionalProperties: false, title: 'DeviceConfig' })
export type DeviceConfig = Static<typeof DeviceConfig>

/** The configuration when nothing is set. */
export const DEFAULT_DEVICE_CONFIG: DeviceConfig = Object.freeze({
  syncEnabled: true,
  minFlushIntervalSec: 5,
  maxBatchSize: 100,
  retryCap: 300,
  maintenanceMode: false,
  minSdkVersion: null,
})

export const DEVICE_CONFIG_FIELDS = Object.keys(fields) as (keyof DeviceConfig)[]

const nullable = <T extends TSchema>(schema: T) =>
  Type.Union([schema, Type.Null()], {
    description: `${(schema as { description?: string }).description}; null: not set here`,
  })

/** What is set at one level (a tenant, or a source of it); null: inherited from the level above. */
export const DeviceConfigSettings = Type.Object(
  {
    syncEnabled: nullable(fields.syncEnabled),
    minFlushIntervalSec: nullable(fields.minFlushIntervalSec),
    maxBatchSize: nullable(fields.maxBatchSize),
    retryCap: nullable(fields.retryCap),
    maintenanceMode: nullable(fields.maintenanceMode),
    minSdkVersion: Type.Union([SdkVersion, Type.Null()], {
      description: 'Devices with an older SDK must be updated; null: not set here',
    }),
  },
  { additionalProperties: false, title: 'DeviceConfigSettings' },
)
export type DeviceConfigSettings = Static<typeof DeviceConfigSettings>

/** A change to one level's settings: a field given replaces the stored one, null clears it. */
export const DeviceConfigPatch = Type.Partial(DeviceConfigSettings, {
  additionalProperties: false,
  title: 'DeviceConfigPatch',
})
export type DeviceConfigPatch = Static<typeof DeviceConfigPatch>

/** An admin's view of one level: what is set there, and what its devices get. */
export const DeviceConfigLevel = Type.Object(
  {
    settings: DeviceConfigSettings,
    effective: DeviceConfig,
    updatedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
      description: 'When the settings last changed; null: never set',
    }),
  },
  { title: 'DeviceConfigLevel' },
)
