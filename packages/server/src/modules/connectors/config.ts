// What configures a connector source (kind square or shopify), around the shapes the admin API and the CLI
// accept (in @pos/contracts/admin): how a configuration splits into settings stored as they are and secrets
// stored encrypted (the sources table's connector_settings and encrypted_connector_secrets), and the view of
// it a read may show: never a secret, only which ones are set.
import {
  CONNECTOR_KINDS,
  CONNECTOR_SECRETS,
  CompleteShopifyConnector,
  CompleteSquareConnector,
  type ConnectorKind,
  type ConnectorView,
  SHOPIFY_DEFAULT_API_VERSION,
  SQUARE_DEFAULT_BASE_URL,
} from '@pos/contracts/admin'
import { compileBodyValidator } from '../../http/validation.js'

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

const SECRET_FIELDS: Readonly<Record<ConnectorKind, readonly string[]>> = CONNECTOR_SECRETS

/** A configuration as stored: settings as they are, secrets to be encrypted together. */
export interface StoredConnector {
  readonly settings: Readonly<Record<string, string>>
  readonly secrets: Readonly<Record<string, string>>
}

export function isConnectorKind(kind: string): kind is ConnectorKind {
  return (CONNECTOR_KINDS as readonly string[]).includes(kind)
}

const completeSchemas = {
  square: compileBodyValidator(CompleteSquareConnector),
  shopify: compileBodyValidator(CompleteShopifyConnector),
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
): ConnectorView {
  return { settings: { ...settings }, secretsSet: [...secretNames].sort() }
}

/** The names of a kind's secrets, for a view built without decrypting them. */
export function secretNamesOf(kind: ConnectorKind): readonly string[] {
  return SECRET_FIELDS[kind]
}
