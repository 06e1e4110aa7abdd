import { execFileSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { findTool, needingTool } from '../helpers/tools.js'
import { ALERT_RULES_PATH, alertRules, deployDir, readRepoFile, readYaml } from './deploy-files.js'

const promtool = findTool('promtool', 'prometheus')

/** GitHub's anchor of a Markdown heading: lower case, punctuation dropped, spaces to hyphens. */
function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\w\- ]/g, '')
    .replace(/ /g, '-')
}

describe('the Prometheus alert rules', () => {
  const alerts = alertRules().filter((rule) => rule.alert !== undefined)

  it('each alert has a severity, a summary and a runbook section in docs/operations.md', () => {
    const operations = readRepoFile('docs/operations.md')
    const anchors = new Set(
      [...operations.matchAll(/^#{2,4} (.+)$/gm)].map(([, heading]) => anchorOf(heading!)),
    )
    expect(alerts.length).toBeGreaterThan(10)
    for (const rule of alerts) {
      expect(['page', 'ticket'], rule.alert).toContain(rule.labels?.severity)
      expect(rule.annotations?.summary, rule.alert).toBeTruthy()
      const runbook = rule.annotations?.runbook_url ?? ''
      expect(runbook, rule.alert).toMatch(/^docs\/operations\.md#/)
      expect(anchors, `${rule.alert}: ${runbook}`).toContain(runbook.slice(runbook.indexOf('#') + 1))
    }
  })

  it('each alert has promtool unit tests where it fires and where it does not', () => {
    const tests = readYaml('deploy/prometheus/alerts.test.yml') as {
      rule_files: string[]
      group_eval_order: string[]
      tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[]
    }
    expect(tests.rule_files).toEqual(['alerts.yml'])
    // promtool otherwise evaluates the groups in a random order, and an alert may read last step's records.
    const groups = (
      readYaml(ALERT_RULES_PATH) as { groups: { name: string; rules: { record?: string }[] }[] }
    ).groups
    const recording = groups.filter((group) => group.rules.some((rule) => rule.record !== undefined))
    expect(tests.group_eval_order.toSorted()).toEqual(groups.map((group) => group.name).toSorted())
    for (const group of recording) {
      expect(tests.group_eval_order.indexOf(group.name), `${group.name} goes first`).toBeLessThan(
        recording.length,
      )
    }
    const cases = tests.tests.flatMap((test) => test.alert_rule_test)
    for (const name of new Set(alerts.map((rule) => rule.alert!))) {
      const own = cases.filter((c) => c.alertname === name)
      expect(
        own.some((c) => c.exp_alerts.length > 0),
        `${name} fires in some test`,
      ).toBe(true)
      expect(
        own.some((c) => c.exp_alerts.length === 0),
        `${name} stays silent in some test`,
      ).toBe(true)
    }
  })

  describe.skipIf(promtool === undefined)(
    needingTool('with promtool', promtool, 'promtool', 'prometheus'),
    () => {
      const run = (args: string[]) =>
        execFileSync(promtool!, args, { cwd: `${deployDir}prometheus`, encoding: 'utf8', stdio: 'pipe' })

      it('promtool check rules accepts the rule file', () => {
        expect(run(['check', 'rules', ALERT_RULES_PATH.split('/').at(-1)!])).toContain('SUCCESS')
      })

      it('promtool test rules passes every unit test', () => {
        expect(run(['test', 'rules', 'alerts.test.yml'])).toContain('SUCCESS')
      })

      it('promtool check config accepts the Prometheus configuration of compose.yaml', () => {
        expect(run(['check', 'config', 'prometheus.yml'])).toContain('SUCCESS')
      })
    },
  )
})
