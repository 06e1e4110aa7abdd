// The fields of a Square and of a Shopify connector as the console asks for them. Their names, which are
// optional and which are secrets all come from @pos/contracts/admin: a field the server adds, drops, makes
// optional or secret breaks this build until it is described here.
import type {
  CONNECTOR_SECRETS,
  ConnectorKind,
  SHOPIFY_DEFAULT_API_VERSION,
  ShopifyConnector,
  SQUARE_DEFAULT_BASE_URL,
  SquareConnector,
} from '@pos/contracts/admin'

export interface ConnectorField<Optional extends boolean = boolean, Secret extends boolean = boolean> {
  readonly label: string
  /** May be left blank at creation: the service fills in a default (the placeholder says which). */
  readonly optional: Optional
  /** Sent once, stored encrypted, never shown again: a password field, blank when the source is edited. */
  readonly secret: Secret
  readonly placeholder?: string
}

type FieldsOf<Connector, Kind extends ConnectorKind> = {
  readonly [Name in keyof Connector]-?: ConnectorField<
    // biome-ignore lint/complexity/noBannedTypes: {} is what an object of only optional fields extends
    {} extends Pick<Connector, Name> ? true : false,
    Name extends (typeof CONNECTOR_SECRETS)[Kind][number] ? true : false
  >
}

export const CONNECTOR_FIELDS: {
  readonly square: FieldsOf<SquareConnector, 'square'>
  readonly shopify: FieldsOf<ShopifyConnector, 'shopify'>
} = {
  square: {
    signatureKey: { label: 'Signature key', optional: false, secret: true },
    notificationUrl: {
      label: 'Notification URL',
      optional: false,
      secret: false,
      placeholder: 'https://pos.example.com/v1/webhooks/square/…',
    },
    accessToken: { label: 'Access token', optional: false, secret: true },
    baseUrl: {
      label: 'API base URL',
      optional: true,
      secret: false,
      placeholder: 'https://connect.squareup.com' satisfies typeof SQUARE_DEFAULT_BASE_URL,
    },
  },
  shopify: {
    shopDomain: {
      label: 'Shop domain',
      optional: false,
      secret: false,
      placeholder: 'example.myshopify.com',
    },
    webhookSecret: { label: 'Webhook secret', optional: false, secret: true },
    accessToken: { label: 'Access token', optional: false, secret: true },
    apiVersion: {
      label: 'API version',
      optional: true,
      secret: false,
      placeholder: '2025-01' satisfies typeof SHOPIFY_DEFAULT_API_VERSION,
    },
    baseUrl: {
      label: 'API base URL',
      optional: true,
      secret: false,
      placeholder: 'https://<shop domain>',
    },
  },
}

export const PROVIDER_NAMES: Readonly<Record<ConnectorKind, string>> = {
  square: 'Square',
  shopify: 'Shopify',
}

export function isConnectorKind(kind: string): kind is ConnectorKind {
  return kind in CONNECTOR_FIELDS
}

/** The field's description, or one made of its name for a setting this console does not know yet. */
export function connectorField(kind: ConnectorKind, name: string): ConnectorField {
  const fields: Readonly<Record<string, ConnectorField>> = CONNECTOR_FIELDS[kind]
  return fields[name] ?? { label: name, optional: true, secret: false }
}
