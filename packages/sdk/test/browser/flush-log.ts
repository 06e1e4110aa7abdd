// What the interrupted-flush tests share: the log of what the page reported before the interruption, and the
// checks that the queue is whole afterwards, whether the page was reloaded or the browser killed.
import { expect } from 'vitest'
import type { StoredBatch } from '../../src/core/ports.js'
import type { PageApi } from './page/runner.js'

declare global {
  /**
   * The runner's API, a global of the page. Only usable inside functions passed to page.evaluate (which run in
   * the page); written as a bare global so the test transform leaves those functions as they are.
   */
  var posSdkPage: PageApi
}

export type FlushMessage =
  | { kind: 'appending' | 'appended'; group: number; ids: string[] }
  | { kind: 'saving' | 'completing' | 'completed' | 'deferred'; key: string }
  | { kind: 'saved'; batch: StoredBatch; ids: string[] }
  | { kind: 'finished' }

/** What the page told the test had started and what had resolved before the interruption. */
export class FlushLog {
  readonly groups = new Map<number, string[]>()
  readonly appended = new Set<number>()
  readonly saving = new Set<string>()
  readonly saved = new Map<string, { batch: StoredBatch; ids: string[] }>()
  readonly completing = new Set<string>()
  readonly completed = new Set<string>()
  deferred = false
  finished = false

  add(message: FlushMessage): void {
    switch (message.kind) {
      case 'appending':
        this.groups.set(message.group, message.ids)
        break
      case 'appended':
        this.appended.add(message.group)
        break
      case 'saving':
        this.saving.add(message.key)
        break
      case 'saved':
        this.saved.set(message.batch.key, { batch: message.batch, ids: message.ids })
        break
      case 'completing':
        this.completing.add(message.key)
        break
      case 'completed':
        this.completed.add(message.key)
        break
      case 'deferred':
        this.deferred = true
        break
      case 'finished':
        this.finished = true
        break
    }
  }

  /** The message's subject as the triggers name it: `g<group>` or a batch key. */
  static subject(message: FlushMessage): string {
    if (message.kind === 'appending' || message.kind === 'appended') return `g${message.group}`
    if (message.kind === 'saved') return message.batch.key
    return 'key' in message ? message.key : ''
  }
}

type Prepared = Awaited<ReturnType<PageApi['prepareFlush']>>
type Snapshot = Awaited<ReturnType<PageApi['inspectQueue']>>

/**
 * After an interrupted flush every record is queued, in exactly one open batch (with the key and body it was
 * formed with), or gone with a batch whose completion had started; no event whose append resolved is lost and
 * none is stored twice. Returns the highest seq the queue had handed out that the test knows of.
 */
export function expectNothingLostOrDoubled(prepared: Prepared, log: FlushLog, snapshot: Snapshot): number {
  expect(log.finished, 'the flush was still running when it was interrupted').toBe(false)
  expect(snapshot.violations).toEqual([])

  const ids = snapshot.records.map((r) => r.id)
  expect(ids.length, 'no event is stored twice').toBe(new Set(ids).size)
  const present = new Set(ids)
  const open = new Map(snapshot.batches.map((b) => [b.key, b]))

  // A batch is never half completed: it is open with the key and bytes it was formed with, or it is gone
  // together with all of its records.
  const known = new Map<string, { batch: StoredBatch; ids: string[] }>([
    ['batch-a', { batch: prepared.a, ids: prepared.ids.slice(0, 20) }],
    ['batch-b', { batch: prepared.b, ids: prepared.ids.slice(20, 40) }],
    ...log.saved,
  ])
  for (const [key, { batch, ids: batchIds }] of known) {
    const stored = open.get(key)
    if (stored === undefined) {
      expect(log.completing.has(key), `batch ${key} is gone, so its completion had started`).toBe(true)
      expect(
        batchIds.filter((id) => present.has(id)),
        `records of completed batch ${key}`,
      ).toEqual([])
    } else {
      expect(log.completed.has(key), `batch ${key} was completed, yet it is open`).toBe(false)
      expect({ key: stored.key, body: stored.body, seqs: stored.seqs }).toEqual({
        key: batch.key,
        body: batch.body,
        seqs: batch.seqs,
      })
      expect(snapshot.batchRecords[key]).toEqual(batch.seqs)
    }
  }
  const b = open.get('batch-b')
  expect(b, 'batch B, never completed, is open').toBeDefined()
  if (log.deferred) expect([b?.attempts, b?.notBefore]).toEqual([1, 5_000])
  // An open batch the test did not hear about is the one being formed when the flush was interrupted.
  for (const key of open.keys())
    expect(known.has(key) || log.saving.has(key), `unknown batch ${key}`).toBe(true)

  // Every event whose append resolved is still there, unless its batch was completed.
  const completedIds = new Set([...known].filter(([key]) => !open.has(key)).flatMap(([, v]) => v.ids))
  const resolved = [...prepared.ids, ...[...log.appended].flatMap((g) => log.groups.get(g) ?? [])]
  expect(
    resolved.filter((id) => !present.has(id) && !completedIds.has(id)),
    'lost events',
  ).toEqual([])
  // An append in flight at the interruption landed whole or not at all.
  for (const [group, groupIds] of log.groups) {
    if (log.appended.has(group)) continue
    const landed = groupIds.filter((id) => present.has(id)).length
    expect([0, groupIds.length], `group ${group} landed ${landed} of ${groupIds.length}`).toContain(landed)
  }
  return Math.max(...snapshot.records.map((r) => r.seq), ...[...known.values()].flatMap((k) => k.batch.seqs))
}
