import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestApp, type TestApp } from '../helpers/app.js'
import { alertRules, dashboardExpressions, metricNames, routeMatchers } from './deploy-files.js'

/** Series Prometheus makes itself for every scrape target, not the service. */
const SCRAPE_SERIES = new Set(['up'])

/** The sample names each family of the /metrics text yields (a histogram's _bucket, _sum and _count). */
function exportedNames(text: string): Set<string> {
  const names = new Set<string>()
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name!)
    if (type === 'histogram')
      for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${name}${suffix}`)
    if (type === 'summary') for (const suffix of ['_sum', '_count']) names.add(`${name}${suffix}`)
  }
  return names
}

describe('the monitoring pack names only what the service exports', () => {
  let t: TestApp
  let exported: Set<string>
  const recorded = new Set(alertRules().flatMap((rule) => (rule.record ? [rule.record] : [])))

  beforeAll(async () => {
    t = await startTestApp()
    // A readiness probe, as the kubelet makes; prom-client lists every registered family even without samples.
    expect((await t.app.inject('/readyz')).statusCode).toBe(200)
    const res = await t.app.inject('/metrics')
    expect(res.statusCode).toBe(200)
    exported = exportedNames(res.body)
  })
  afterAll(() => t.close())

  function unknownNames(expressions: readonly string[]): string[] {
    const names = expressions.flatMap(metricNames)
    return [...new Set(names)].filter(
      (name) => !exported.has(name) && !recorded.has(name) && !SCRAPE_SERIES.has(name),
    )
  }

  it('finds the metric names in an expression', () => {
    expect(
      metricNames(
        'histogram_quantile(0.95, sum by (job, le) (rate(http_request_duration_seconds_bucket{route="/v1/x",le="+Inf"}[5m]))) > 1 unless up{job="a"} offset 30m',
      ),
    ).toEqual(['http_request_duration_seconds_bucket', 'up'])
    expect(metricNames('max(webhook_oldest_due_delivery_seconds{instance=~"$instance"})')).toEqual([
      'webhook_oldest_due_delivery_seconds',
    ])
    expect(metricNames('label_values(build_info{job=~"$job"}, instance)')).toEqual(['build_info'])
  })

  it('every metric in the alert rules is exported by the service or recorded by the rules', () => {
    const expressions = alertRules().map((rule) => rule.expr)
    expect(expressions.flatMap(metricNames).length).toBeGreaterThan(20)
    expect(unknownNames(expressions)).toEqual([])
  })

  it('every metric on the Grafana dashboard is exported by the service or recorded by the rules', () => {
    const expressions = dashboardExpressions()
    expect(expressions.length).toBeGreaterThan(30)
    expect(unknownNames(expressions)).toEqual([])
  })

  it('every route the rules and the dashboard match exactly is a route of the app', () => {
    const matched = [...alertRules().map((rule) => rule.expr), ...dashboardExpressions()].flatMap(
      routeMatchers,
    )
    expect(matched.length).toBeGreaterThan(3)
    for (const { method, url } of matched) {
      expect(t.app.hasRoute({ method: method ?? 'GET', url }), `${method ?? 'GET'} ${url}`).toBe(true)
    }
  })

  it('a name the service does not export is caught', () => {
    expect(unknownNames(['sum(rate(http_requests_totals[5m]))'])).toEqual(['http_requests_totals'])
  })
})
