// What configures a connector source (kind square or shopify): the shapes the admin API and the CLI accept,
// how a configuration splits into settings stored as they are and secrets stored encrypted (the sources
// table's connector_settings and encrypted_connector_secrets), and the view of it a read may show: never a
// secret, only which ones are set.
import { type Static, Type } from '@fastify/type-provider-typebox'
import { compileBodyValidator } from '../../http/validation.js'
import { NO_CONTROL_CHARACTERS } from '../tenants/schemas.js'

export const CONNECTOR_KINDS = ['square', 'shopify'] as const
export type ConnectorKind = (typeof CONNECTOR_KINDS)[number]

export const SQUARE_DEFAULT_BASE_URL = 'https://connect.squareup.com'
export const SHOPIFY_DEFAULT_API_VERSION = '2025-01'

const HttpUrl = (description: string) =>
  Type.String({ minLength: 8, maxLength: 2000, pattern: '^https?://[^\\s]+$', description })
const Secret = (description: string) =>
  Type.String({ minLength: 1, maxLength: 1024, pattern: NO_CONTROL_CHARACTERS, description })

const squareFields = {
  signatureKey: Secret(
    "The webhook subscription's signature key (Square Developer Console). Never returned.",
  ),
  notificationUrl: HttpUrl(
    'The notification URL exactly as the subscription names it: Square signs it with every webhook.',
  ),
  accessToken: Secret(
    'An access token of the seller, for the Orders, Catalog and Inventory APIs. Never returned.',
  ),
  baseUrl: HttpUrl(`Square's API; defaults to ${SQUARE_DEFAULT_BASE_URL}.`),
}
const shopifyFields = {
  shopDomain: Type.String({
    minLength: 1,
    maxLength: 255,
    pattern: '^[A-Za-z0-9][A-Za-z0-9.-]*(:\\d{1,5})?$',
    description: 'The shop, e.g. example.myshopify.com',
  }),
  webhookSecret: Secret("The app's client secret, which signs its webhooks. Never returned."),
  accessToken: Secret("The Admin API access token of the app's installation. Never returned."),
  apiVersion: Type.String({
    pattern: '^\\d{4}-\\d{2}$|^unstable$',
    description: `The Admin API version; defaults to ${SHOPIFY_DEFAULT_API_VERSION}.`,
  }),
  baseUrl: HttpUrl('The Admin API host; defaults to https://<shopDomain>.'),
}

/** A Square connector as given on creation (every field but baseUrl). */
export const SquareConnector = Type.Object(
  { ...squareFields, baseUrl: Type.Optional(squareFields.baseUrl) },
  { additionalProperties: false, title: 'SquareConnector' },
)
/** A Shopify connector as given on creation (every field but apiVersion and baseUrl). */
export const ShopifyConnector = Type.Object(
  {
    ...shopifyFields,
    apiVersion: Type.Optional(shopifyFields.apiVersion),
    baseUrl: Type.Optional(shopifyFields.baseUrl),
  },
  { additionalProperties: false, title: 'ShopifyConnector' },
)
export const ConnectorInput = Type.Union([SquareConnector, ShopifyConnector], {
  description: "The connector of a square or shopify source: its kind's fields.",
})
export type ConnectorInput = Static<typeof ConnectorInput>

/** A change of a connector: the fields given replace the stored ones, the others stay. */
export const ConnectorPatch = Type.Partial(Type.Object({ ...squareFields, ...shopifyFields }), {
  additionalProperties: false,
  title: 'ConnectorPatch',
})
export type ConnectorPatch = Static<typeof ConnectorPatch>

/** The whole configuration of a Square source, in clear (in memory only). */
export interface SquareConfig {
  readonly signatureKey: string
  readonly notificationUrl: string
  readonly accessToken: string
  readonly baseUrl: string
}

/** The whole configuration of a Shopify source, in clear (in memory only). */
export interface ShopifyConfig {
  /** The shop's permanent domain, `<shop>.myshopify.com`; webhooks name it in X-Shopify-Shop-Domain. */
  readonly shopDomain: string
  /** The app's client secret, which signs the webhooks. */
  readonly webhookSecret: string
  /** The Admin API access token of the app's installation on the shop. */
  readonly accessToken: string
  /** The Admin API version, e.g. `2025-01`. */
  readonly apiVersion: string
  /** Where the Admin API is, `https://<shop>.myshopify.com`; tests point it at a fake. */
  readonly baseUrl: string
}

export type ConnectorConfig =
  | { readonly kind: 'square'; readonly config: SquareConfig }
  | { readonly kind: 'shopify'; readonly config: ShopifyConfig }

const SECRET_FIELDS: Readonly<Record<ConnectorKind, readonly string[]>> = {
  square: ['signatureKey', 'accessToken'],
  shopify: ['webhookSecret', 'accessToken'],
}

/** A configuration as stored: settings as they are, secrets to be encrypted together. */
export interface StoredConnector {
  readonly settings: Readonly<Record<string, string>>
  readonly secrets: Readonly<Record<string, string>>
}

/** What a read shows of a connector: its settings and which secrets are set, never their values. */
export const ConnectorView = Type.Object(
  {
    settings: Type.Record(Type.String(), Type.String(), {
      description: 'notificationUrl and baseUrl (square); shopDomain, apiVersion and baseUrl (shopify)',
    }),
    secretsSet: Type.Array(Type.String(), { description: 'The names of the secrets stored (encrypted)' }),
  },
  { title: 'ConnectorView' },
)

export function isConnectorKind(kind: string): kind is ConnectorKind {
  return (CONNECTOR_KINDS as readonly string[]).includes(kind)
}

const completeSchemas = {
  square: compileBodyValidator(Type.Object(squareFields, { additionalProperties: false })),
  shopify: compileBodyValidator(Type.Object(shopifyFields, { additionalProperties: false })),
}

/** The defaults a kind fills in. */
function withDefaults(kind: ConnectorKind, fields: Readonly<Record<string, string>>): Record<string, string> {
  if (kind === 'square') return { baseUrl: SQUARE_DEFAULT_BASE_URL, ...fields }
  return {
    apiVersion: SHOPIFY_DEFAULT_API_VERSION,
    ...(fields.shopDomain === undefined ? {} : { baseUrl: `https://${fields.shopDomain}` }),
    ...fields,
  }
}

/**
 * The stored form of a kind's configuration, or the first field that is missing or does not belong to the
 * kind (as a JSON pointer and message).
 */
export function storedConnector(
  kind: ConnectorKind,
  fields: Readonly<Record<string, string | undefined>>,
): StoredConnector | { readonly pointer: string; readonly message: string } {
  const given = Object.fromEntries(
    Object.entries(fields).filter((entry): entry is [string, string] => entry[1] !== undefined),
  )
  const complete = withDefaults(kind, given)
  const validate = completeSchemas[kind]
  if (!validate(complete)) {
    const error = validate.errors?.[0]
    const missing =
      error?.params && 'missingProperty' in error.params ? `/${String(error.params.missingProperty)}` : ''
    const extra =
      error?.params && 'additionalProperty' in error.params
        ? `/${String(error.params.additionalProperty)}`
        : ''
    const message =
      extra === '' ? (error?.message ?? 'is invalid') : `is not a setting of a ${kind} connector`
    return { pointer: `${error?.instancePath ?? ''}${missing}${extra}`, message }
  }
  const settings: Record<string, string> = {}
  const secrets: Record<string, string> = {}
  for (const [name, value] of Object.entries(complete)) {
    if (SECRET_FIELDS[kind].includes(name)) secrets[name] = value
    else settings[name] = value
  }
  return { settings, secrets }
}

/** The configuration in clear, from what was stored. */
export function connectorConfig(kind: ConnectorKind, stored: StoredConnector): ConnectorConfig {
  const all = { ...stored.settings, ...stored.secrets }
  return kind === 'square'
    ? { kind, config: all as unknown as SquareConfig }
    : { kind, config: all as unknown as ShopifyConfig }
}

export function connectorView(
  settings: Readonly<Record<string, string>>,
  secretNames: readonly string[],
): Static<typeof ConnectorView> {
  return { settings: { ...settings }, secretsSet: [...secretNames].sort() }
}

/** The names of a kind's secrets, for a view built without decrypting them. */
export function secretNamesOf(kind: ConnectorKind): readonly string[] {
  return SECRET_FIELDS[kind]
}
