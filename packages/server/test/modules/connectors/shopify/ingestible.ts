// Checks canonical events against what POST /v1/ingest accepts: the envelope and each type's data schema.

import type { IngestBody } from '@pos/contracts/events'
import { expect } from 'vitest'
import type { CanonicalEvent } from '../../../../src/modules/connectors/provider.js'
import { validateEventData } from '../../../../src/modules/ingest/events.js'

export function expectIngestible(events: readonly CanonicalEvent[]): void {
  for (const event of events) {
    expect(event.id.length, event.id).toBeLessThanOrEqual(255)
    expect(new Date(event.occurredAt).toISOString()).toBe(event.occurredAt)
  }
  const result = validateEventData(events as unknown as IngestBody['events'])
  expect('issue' in result ? result.issue : undefined).toBeUndefined()
}
