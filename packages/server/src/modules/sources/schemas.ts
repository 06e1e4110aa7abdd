// The shapes of the admin API of sources: what it accepts (validated by the HTTP layer and by the CLI alike)
// and what it answers, with the function that turns a stored source into that answer: whether it is signed,
// never its secrets.
import { type Static, Type } from '@fastify/type-provider-typebox'
import { oneExample } from '@pos/contracts/examples'
import { SOURCE_KINDS } from '../../db/schema.js'
import {
  ConnectorInput,
  ConnectorView,
  connectorView,
  isConnectorKind,
  secretNamesOf,
} from '../connectors/config.js'
import { Id, NO_CONTROL_CHARACTERS, Timestamp } from '../tenants/schemas.js'
import type { SourceRecord } from './repository.js'

export const SourceParams = Type.Object({ tenantId: Type.String(), sourceId: Type.String() })

export const SourceKind = Type.Enum(SOURCE_KINDS)
export const SourceName = Type.String({
  pattern: '^[a-z0-9][a-z0-9-]{0,62}$',
  description: 'Slug used in ingest URLs: lowercase letters, digits and dashes. `api` is reserved.',
})
export const SigningSecret = Type.String({
  minLength: 16,
  maxLength: 256,
  pattern: NO_CONTROL_CHARACTERS,
  description: 'HMAC secret the source signs its requests with.',
})

export const CreateSourceBody = Type.Object(
  {
    name: SourceName,
    kind: SourceKind,
    signingSecret: Type.Optional(SigningSecret),
    connector: Type.Optional(ConnectorInput),
  },
  { additionalProperties: false },
)

export const RotateSecretBody = Type.Object({ signingSecret: SigningSecret }, { additionalProperties: false })

export const Source = Type.Object({
  id: Id,
  name: Type.String(),
  kind: SourceKind,
  signed: Type.Boolean({ description: 'Whether requests from this source must carry a signature.' }),
  connector: Type.Union([ConnectorView, Type.Null()], {
    description: 'A square or shopify source: its connector settings and which secrets are set',
  }),
  createdAt: Timestamp,
})
export const SourceList = Type.Object({ data: Type.Array(Source) })

export function sourceView(source: SourceRecord): Static<typeof Source> {
  return {
    id: source.id,
    name: source.name,
    kind: source.kind,
    signed: source.signed,
    connector:
      source.connectorSettings === null || !isConnectorKind(source.kind)
        ? null
        : connectorView(source.connectorSettings, secretNamesOf(source.kind)),
    createdAt: source.createdAt.toISOString(),
  }
}

const exampleSource: Static<typeof Source> = {
  id: '6d2a8f47-1b9e-4c35-8a70-4e6c2b9d1f03',
  name: 'pos',
  kind: 'custom',
  signed: true,
  connector: null,
  createdAt: '2026-11-01T08:32:00.000Z',
}
export const createSourceExamples = oneExample<Static<typeof CreateSourceBody>>(
  'A POS that signs its requests (the secret is a placeholder here)',
  { name: 'pos', kind: 'custom', signingSecret: 'replace-with-a-long-random-secret' },
)
export const sourceExamples = oneExample('The source: signed, its secret never shown', exampleSource)
export const sourceListExamples = oneExample<Static<typeof SourceList>>(
  'The POS, and the device SDK of the staff app',
  {
    data: [
      exampleSource,
      {
        id: 'c4f1e9a2-5b7d-4e83-9f06-2a8d6c3b7e15',
        name: 'staff-app',
        kind: 'sdk',
        signed: false,
        connector: null,
        createdAt: '2026-11-03T10:00:00.000Z',
      },
    ],
  },
)
