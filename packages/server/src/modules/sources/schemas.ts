// The admin API of sources around its shapes (in @pos/contracts/admin): the function that turns a stored source
// into an answer (whether it is signed, never its secrets), and the examples.
import type { CreateSourceBody, Source, SourceList } from '@pos/contracts/admin'
import { oneExample } from '@pos/contracts/examples'
import { connectorView, isConnectorKind, secretNamesOf } from '../connectors/config.js'
import type { SourceRecord } from './repository.js'

export function sourceView(source: SourceRecord): Source {
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

const exampleSource: Source = {
  id: '6d2a8f47-1b9e-4c35-8a70-4e6c2b9d1f03',
  name: 'pos',
  kind: 'custom',
  signed: true,
  connector: null,
  createdAt: '2026-11-01T08:32:00.000Z',
}
export const createSourceExamples = oneExample<CreateSourceBody>(
  'A POS that signs its requests (the secret is a placeholder here)',
  { name: 'pos', kind: 'custom', signingSecret: 'replace-with-a-long-random-secret' },
)
export const sourceExamples = oneExample('The source: signed, its secret never shown', exampleSource)
export const sourceListExamples = oneExample<SourceList>('The POS, and the device SDK of the staff app', {
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
})
