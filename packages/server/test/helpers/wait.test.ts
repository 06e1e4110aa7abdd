// The wait helper every test polls with: what it resolves with, and what its timeout error tells.
import { describe, expect, it } from 'vitest'
import { StopWaiting, waitFor } from './wait.js'

describe('waitFor', () => {
  it('resolves with the first truthy value of the condition', async () => {
    let checks = 0
    const found = await waitFor(() => (++checks === 3 ? { checks } : undefined), {
      description: 'the third check',
      intervalMs: 1,
    })
    expect(found).toEqual({ checks: 3 })
  })

  it('awaits an async condition, and counts a throw as not yet', async () => {
    let checks = 0
    const found = await waitFor(
      async () => {
        checks++
        if (checks < 3) throw new Error('connection refused')
        return 'up'
      },
      { description: 'the server', intervalMs: 1 },
    )
    expect(found).toBe('up')
    expect(checks).toBe(3)
  })

  it('on timeout, names what it waited for and the last value seen', async () => {
    const wait = waitFor(() => 41, { description: 'the answer', timeoutMs: 30, intervalMs: 5 })
    await expect(wait).resolves.toBe(41)
    const never = waitFor(() => ({ inFlight: 1 }).inFlight === 2 && 'done', {
      description: 'two requests in flight',
      timeoutMs: 30,
      intervalMs: 5,
    })
    await expect(never).rejects.toThrow(
      'timed out after 30 ms waiting for two requests in flight; the last check returned false',
    )
  })

  it('on timeout, names the last error the condition threw', async () => {
    const wait = waitFor(
      () => {
        throw new Error('ECONNREFUSED')
      },
      { description: 'the server to listen', timeoutMs: 30, intervalMs: 5 },
    )
    await expect(wait).rejects.toThrow(
      /waiting for the server to listen; the last check threw .*ECONNREFUSED/,
    )
  })

  it('gives up at the deadline on a check that never settles', async () => {
    const wait = waitFor(() => new Promise<boolean>(() => undefined), {
      description: 'a hung probe',
      timeoutMs: 30,
    })
    await expect(wait).rejects.toThrow('waiting for a hung probe; the last check was still running')
  })

  it('stops at once when the condition throws StopWaiting', async () => {
    let checks = 0
    const wait = waitFor(
      () => {
        checks++
        throw new StopWaiting('the server exited')
      },
      { description: 'a log line', timeoutMs: 60_000 },
    )
    await expect(wait).rejects.toThrow('the server exited')
    expect(checks).toBe(1)
  })
})
