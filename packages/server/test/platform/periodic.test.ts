import Fastify, { type FastifyInstance } from 'fastify'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { Lifecycle } from '../../src/platform/lifecycle.js'
import { schedulePeriodic } from '../../src/platform/periodic.js'
import type { Platform } from '../../src/platform/platform.js'

const INTERVAL_MS = 1000

/** Lets the promise callbacks queued so far run (setImmediate is not faked here). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve))

describe('periodic background work', () => {
  let app: FastifyInstance
  let lifecycle: Lifecycle
  let runs: { phase: string; release: () => void }[]
  let outcome: 'ok' | 'fail'

  beforeEach(async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] })
    app = Fastify()
    lifecycle = new Lifecycle()
    app.decorate('platform', { lifecycle } as Pick<Platform, 'lifecycle'> as Platform)
    runs = []
    outcome = 'ok'
    schedulePeriodic(app, {
      intervalMs: INTERVAL_MS,
      failure: 'test task failed',
      run: () =>
        new Promise<void>((resolve, reject) => {
          runs.push({
            phase: lifecycle.phase,
            release: () => (outcome === 'ok' ? resolve() : reject(new Error('boom'))),
          })
        }),
    })
    await app.ready()
  })
  afterEach(async () => {
    for (const run of runs) run.release()
    await app.close()
    vi.useRealTimers()
  })

  it('does nothing until start-up is complete, then runs every interval', async () => {
    vi.advanceTimersByTime(3 * INTERVAL_MS)
    expect(runs).toHaveLength(0)
    lifecycle.markStarted()
    vi.advanceTimersByTime(INTERVAL_MS)
    expect(runs).toHaveLength(1)
    runs[0]!.release()
    await settle()
    vi.advanceTimersByTime(INTERVAL_MS)
    expect(runs.map((run) => run.phase)).toEqual(['started', 'started'])
  })

  it('never runs twice at once on one replica', async () => {
    lifecycle.markStarted()
    vi.advanceTimersByTime(INTERVAL_MS)
    vi.advanceTimersByTime(5 * INTERVAL_MS)
    expect(runs).toHaveLength(1)
    runs[0]!.release()
    await settle()
    vi.advanceTimersByTime(INTERVAL_MS)
    expect(runs).toHaveLength(2)
  })

  it('logs a failed run and runs again at the next interval', async () => {
    const warn = vi.spyOn(app.log, 'warn')
    lifecycle.markStarted()
    outcome = 'fail'
    vi.advanceTimersByTime(INTERVAL_MS)
    runs[0]!.release()
    await settle()
    expect(warn).toHaveBeenCalledWith(
      { err: expect.objectContaining({ message: 'boom' }) },
      'test task failed',
    )
    outcome = 'ok'
    vi.advanceTimersByTime(INTERVAL_MS)
    expect(runs).toHaveLength(2)
  })

  it('starts no run once shutdown has begun, and closing waits for the run in flight', async () => {
    lifecycle.markStarted()
    vi.advanceTimersByTime(INTERVAL_MS)
    lifecycle.beginShutdown()
    vi.advanceTimersByTime(5 * INTERVAL_MS)
    expect(runs).toHaveLength(1)
    let closed = false
    const closing = app.close().then(() => {
      closed = true
    })
    await settle()
    expect(closed).toBe(false)
    runs[0]!.release()
    await closing
    expect(closed).toBe(true)
  })
})
