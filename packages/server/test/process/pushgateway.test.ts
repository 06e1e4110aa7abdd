import { hostname } from 'node:os'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { PUSH_JOB, pushMetrics } from '../../src/platform/pushgateway.js'
import { ADMIN_TOKEN } from '../helpers/app.js'
import { createTestDatabase, type TestDatabase } from '../helpers/database.js'
import { type ServerProcess, startServerProcess } from '../helpers/server-process.js'
import { findTool, freePort, needingTool, type Pushgateway, startPushgateway } from '../helpers/tools.js'

/** The values of the samples of `name` whose labels include all of `labels`. */
function samples(text: string, name: string, labels: Record<string, string>): number[] {
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`))
    .filter((line) => Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)))
    .map((line) => Number(line.slice(line.lastIndexOf(' ') + 1)))
}

const binary = findTool('prometheus-pushgateway', 'prometheus-pushgateway')

describe('the final metrics snapshot and the Pushgateway', () => {
  let database: TestDatabase
  let server: ServerProcess | undefined

  beforeEach(async () => {
    database = await createTestDatabase()
  })
  afterEach(async () => {
    server?.kill()
    await database.drop()
  })

  async function runAndStop(pushgatewayUrl: string): Promise<{ exitCode: number | null; url: string }> {
    server = startServerProcess({
      DATABASE_URL: database.url,
      ADMIN_TOKEN,
      SHUTDOWN_READINESS_DELAY_MS: '0',
      METRICS_PUSHGATEWAY_URL: pushgatewayUrl,
    })
    const url = await server.url()
    await server.waitForLine((l) => l.msg === 'start-up complete')
    expect((await fetch(`${url}/healthz`)).status).toBe(200)
    server.child.kill('SIGTERM')
    return { exitCode: await server.exited, url }
  }

  it('a Pushgateway that does not answer is logged, and the shutdown still exits 0', async () => {
    const closedPort = await freePort()
    const { exitCode } = await runAndStop(`http://127.0.0.1:${closedPort}`)
    expect(exitCode).toBe(0)
    const warning = server!.lines.find((l) => l.msg === 'could not push the final metrics snapshot')
    expect(warning).toMatchObject({
      url: `http://127.0.0.1:${closedPort}/metrics/job/${PUSH_JOB}/instance/${encodeURIComponent(hostname())}`,
    })
    expect(String(warning?.error)).not.toBe('')
    expect(server!.lines.some((l) => l.msg === 'final metrics snapshot')).toBe(true)
  })

  const title = needingTool(
    'against a real prometheus-pushgateway',
    binary,
    'prometheus-pushgateway',
    'prometheus-pushgateway',
  )
  describe.skipIf(binary === undefined)(title, () => {
    let gateway: Pushgateway

    beforeAll(async () => {
      gateway = await startPushgateway(binary!)
    })
    afterAll(async () => {
      await gateway?.close()
    })

    it('pushes the final snapshot at shutdown, under its own job and the host name', async () => {
      const { exitCode } = await runAndStop(gateway.url)
      expect(exitCode).toBe(0)
      expect(server!.lines.some((l) => l.msg === 'final metrics snapshot pushed')).toBe(true)

      const text = await gateway.metrics()
      const grouping = { job: PUSH_JOB, instance: hostname() }
      // The request this test made, the build, and the service's own families, as the gateway now serves them.
      expect(
        samples(text, 'http_requests_total', { ...grouping, route: '/healthz', status_code: '200' }),
      ).toEqual([1])
      expect(samples(text, 'build_info', grouping)).toEqual([1])
      expect(samples(text, 'process_cpu_seconds_total', grouping)).toHaveLength(1)
      expect(text).toContain('# TYPE http_request_duration_seconds histogram')
      expect(samples(text, 'push_time_seconds', grouping)).toHaveLength(1)
    })

    it('a second push of the same job and instance replaces the first', async () => {
      const target = { url: `${gateway.url}/`, job: 'pos-push-test', instance: 'replica-a' }
      expect(await pushMetrics(target, '# TYPE pos_test_value gauge\npos_test_value 1\n')).toMatchObject({
        pushed: true,
      })
      expect(await pushMetrics(target, '# TYPE pos_test_value gauge\npos_test_value 2\n')).toMatchObject({
        pushed: true,
      })
      expect(samples(await gateway.metrics(), 'pos_test_value', { job: 'pos-push-test' })).toEqual([2])
    })

    it('a push the gateway refuses is answered as not pushed, with its reason', async () => {
      const outcome = await pushMetrics(
        { url: gateway.url, job: 'pos-push-test', instance: 'replica-b' },
        'this is not the text format {\n',
      )
      expect(outcome).toMatchObject({ pushed: false })
      expect(outcome.pushed === false && outcome.error).toMatch(/^HTTP 400/)
    })
  })
})
