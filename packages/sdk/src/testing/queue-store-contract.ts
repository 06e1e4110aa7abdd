// The contract every QueueStore adapter passes (Node, browser, Expo). `open()` opens the store at one fixed
// location, creating it when absent; calling it again after close() must find everything that was stored,
// which is how "durable before it resolves" is checked without a power cut (the device crash test does that).
import type { IngestEvent, QueueStore, StoredBatch } from '../core/ports.js'
import { type ContractCheck, expectEqual, expectRejects, expectThat } from './contract.js'

export interface QueueStoreHarness {
  /** Opens the store at the harness's location (a fresh, empty location per harness). */
  open(): Promise<QueueStore>
}

let counter = 0
export function sampleEvent(n = ++counter): IngestEvent {
  return {
    id: `evt-${n}`,
    type: 'inventory.adjusted',
    occurredAt: '2026-11-28T10:15:00.000Z',
    data: { storeId: 'berlin-1', sku: `SKU-${n}`, delta: -1 },
  }
}

function batchOf(key: string, seqs: number[], body = `{"events":[${seqs.join(',')}]}`): StoredBatch {
  return { key, body, seqs, createdAt: 1_000, attempts: 0, notBefore: 0 }
}

const problem = { type: '/problems/validation-failed', title: 'Validation failed', status: 422 }

export function queueStoreContract(makeHarness: () => QueueStoreHarness): ContractCheck[] {
  const check = (name: string, body: (harness: QueueStoreHarness) => Promise<void>): ContractCheck => ({
    name,
    run: () => body(makeHarness()),
  })
  return [
    check('append assigns increasing seqs and keeps the events as recorded', async (h) => {
      const store = await h.open()
      const events = [sampleEvent(), sampleEvent(), sampleEvent()]
      const first = await store.append(events.slice(0, 2), 10)
      const second = await store.append(events.slice(2), 11)
      const seqs = [...first, ...second].map((r) => r.seq)
      expectThat(
        seqs.every((seq, i) => i === 0 || seq > (seqs[i - 1] as number)),
        `seqs increase: ${seqs}`,
      )
      const queued = await store.unbatched(10)
      expectEqual(
        queued.map((r) => r.event),
        events,
        'the events as appended',
      )
      expectEqual(
        queued.map((r) => r.recordedAt),
        [10, 10, 11],
        'recordedAt',
      )
      await store.close()
    }),
    check('what was appended is there after close and open', async (h) => {
      const store = await h.open()
      const events = [sampleEvent(), sampleEvent()]
      await store.append(events, 5)
      await store.close()
      const reopened = await h.open()
      expectEqual(
        (await reopened.unbatched(10)).map((r) => r.event),
        events,
        'events after reopening',
      )
      expectEqual(await reopened.counts(), { queued: 2, batched: 0, rejected: 0 }, 'counts after reopening')
      await reopened.close()
    }),
    check('unbatched honours the limit and skips records in a batch', async (h) => {
      const store = await h.open()
      const records = await store.append([sampleEvent(), sampleEvent(), sampleEvent(), sampleEvent()], 1)
      const seqs = records.map((r) => r.seq)
      expectEqual(
        (await store.unbatched(2)).map((r) => r.seq),
        seqs.slice(0, 2),
        'the first two',
      )
      await store.saveBatch(batchOf('k1', seqs.slice(0, 2)))
      expectEqual(
        (await store.unbatched(10)).map((r) => r.seq),
        seqs.slice(2),
        'the ones not in a batch',
      )
      expectEqual(await store.counts(), { queued: 2, batched: 2, rejected: 0 }, 'counts')
      await store.close()
    }),
    check('a batch keeps its key and exact body across close and open', async (h) => {
      const store = await h.open()
      const records = await store.append([sampleEvent(), sampleEvent()], 1)
      const body = '{"events":[ {"id":"x\\u00e9","note":"bytes matter"} ]}'
      const batch = {
        ...batchOf(
          'key-é-1',
          records.map((r) => r.seq),
          body,
        ),
        createdAt: 42,
      }
      await store.saveBatch(batch)
      await store.close()
      const reopened = await h.open()
      expectEqual(await reopened.openBatches(), [batch], 'the open batch')
      expectEqual(
        (await reopened.batchRecords('key-é-1')).map((r) => r.seq),
        batch.seqs,
        'its records',
      )
      await reopened.close()
    }),
    check('a record cannot be put in two batches, nor a missing one in any', async (h) => {
      const store = await h.open()
      const [a, b] = await store.append([sampleEvent(), sampleEvent()], 1)
      if (a === undefined || b === undefined) throw new Error('append returned too few records')
      await store.saveBatch(batchOf('k1', [a.seq]))
      await expectRejects(() => store.saveBatch(batchOf('k2', [a.seq, b.seq])), 'a batched record again')
      expectEqual(
        (await store.unbatched(10)).map((r) => r.seq),
        [b.seq],
        'the failed batch changed nothing',
      )
      await expectRejects(
        () => store.saveBatch(batchOf('k3', [b.seq + 1000])),
        'a record that does not exist',
      )
      expectEqual(
        (await store.openBatches()).map((x) => x.key),
        ['k1'],
        'only the first batch exists',
      )
      await store.close()
    }),
    check('open batches come oldest first', async (h) => {
      const store = await h.open()
      const records = await store.append([sampleEvent(), sampleEvent(), sampleEvent()], 1)
      for (const [i, r] of records.entries())
        await store.saveBatch({ ...batchOf(`k${i}`, [r.seq]), createdAt: 100 + i })
      expectEqual(
        (await store.openBatches()).map((x) => x.key),
        ['k0', 'k1', 'k2'],
        'batch order',
      )
      await store.close()
    }),
    check('deferBatch records attempts and notBefore and keeps the body', async (h) => {
      const store = await h.open()
      const records = await store.append([sampleEvent()], 1)
      const batch = batchOf(
        'k1',
        records.map((r) => r.seq),
      )
      await store.saveBatch(batch)
      await store.deferBatch('k1', 3, 9_999)
      await store.close()
      const reopened = await h.open()
      expectEqual(
        await reopened.openBatches(),
        [{ ...batch, attempts: 3, notBefore: 9_999 }],
        'the deferred batch',
      )
      await reopened.close()
    }),
    check('completeBatch deletes the batch and its records and nothing else', async (h) => {
      const store = await h.open()
      const records = await store.append([sampleEvent(), sampleEvent(), sampleEvent()], 1)
      await store.saveBatch(batchOf('k1', [records[0]?.seq ?? -1, records[1]?.seq ?? -1]))
      await store.completeBatch('k1')
      expectEqual(await store.openBatches(), [], 'no open batch')
      expectEqual(
        (await store.unbatched(10)).map((r) => r.seq),
        [records[2]?.seq],
        'the record outside the batch stays',
      )
      expectEqual(await store.counts(), { queued: 1, batched: 0, rejected: 0 }, 'counts')
      await store.close()
      const reopened = await h.open()
      expectEqual(await reopened.counts(), { queued: 1, batched: 0, rejected: 0 }, 'counts after reopening')
      await reopened.close()
    }),
    check(
      'rejectFromBatch moves the refused events aside and returns the others to the queue in order',
      async (h) => {
        const store = await h.open()
        const records = await store.append([sampleEvent(), sampleEvent(), sampleEvent()], 7)
        const seqs = records.map((r) => r.seq)
        await store.saveBatch(batchOf('k1', seqs))
        await store.rejectFromBatch('k1', [{ seq: seqs[1] as number, problem }], 50)
        expectEqual(await store.openBatches(), [], 'the batch is gone')
        expectEqual(
          (await store.unbatched(10)).map((r) => r.seq),
          [seqs[0], seqs[2]],
          'the others are queued again, in order',
        )
        const rejected = await store.rejected(10)
        expectEqual(
          rejected.map((r) => ({
            seq: r.seq,
            event: r.event,
            recordedAt: r.recordedAt,
            problem: r.problem,
            at: r.rejectedAt,
          })),
          [{ seq: seqs[1], event: records[1]?.event, recordedAt: 7, problem, at: 50 }],
          'the rejected record with its problem',
        )
        expectEqual(await store.counts(), { queued: 2, batched: 0, rejected: 1 }, 'counts')
        await store.close()
        const reopened = await h.open()
        expectEqual((await reopened.rejected(10)).length, 1, 'rejected after reopening')
        await reopened.deleteRejected([seqs[1] as number])
        expectEqual(
          await reopened.counts(),
          { queued: 2, batched: 0, rejected: 0 },
          'counts after deleteRejected',
        )
        await reopened.close()
      },
    ),
    check('state values survive close and open, and can be replaced', async (h) => {
      const store = await h.open()
      expectEqual(await store.getState('cursor:feed'), undefined, 'an unknown name')
      await store.setState('cursor:feed', 'abc')
      await store.setState('cursor:feed', 'def')
      await store.setState('config', '{"etag":"\\"x\\""}')
      await store.close()
      const reopened = await h.open()
      expectEqual(await reopened.getState('cursor:feed'), 'def', 'the latest value')
      expectEqual(await reopened.getState('config'), '{"etag":"\\"x\\""}', 'another value')
      await reopened.close()
    }),
    check('a thousand appends in parallel all land, each with its own seq', async (h) => {
      const store = await h.open()
      const appended = await Promise.all(Array.from({ length: 1000 }, () => store.append([sampleEvent()], 1)))
      const seqs = new Set(appended.flat().map((r) => r.seq))
      expectEqual(seqs.size, 1000, 'distinct seqs')
      expectEqual((await store.counts()).queued, 1000, 'queued')
      await store.close()
    }),
  ]
}
