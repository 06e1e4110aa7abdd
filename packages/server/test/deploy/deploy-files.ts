// Reading the deployment pack (deploy/ at the repository root) for the tests that hold it to the code: the
// alert rules, the Grafana dashboard, the manifests, and the metric names their PromQL expressions use.
import { readFileSync } from 'node:fs'
import { parse, parseAllDocuments } from 'yaml'

export const repoRoot = new URL('../../../../', import.meta.url).pathname
export const deployDir = `${repoRoot}deploy/`

export function readRepoFile(path: string): string {
  return readFileSync(`${repoRoot}${path}`, 'utf8')
}

export function readYaml(path: string): unknown {
  return parse(readRepoFile(path))
}

/** Every document of a multi-document YAML file (Kubernetes manifests). */
export function readYamlDocuments(path: string): unknown[] {
  return parseAllDocuments(readRepoFile(path)).map((document) => {
    if (document.errors.length > 0) throw new Error(`${path}: ${document.errors[0]!.message}`)
    return document.toJS() as unknown
  })
}

export interface AlertRule {
  readonly alert?: string
  readonly record?: string
  readonly expr: string
  readonly labels?: Record<string, string>
  readonly annotations?: Record<string, string>
}

export const ALERT_RULES_PATH = 'deploy/prometheus/alerts.yml'
export const DASHBOARD_PATH = 'deploy/grafana/dashboards/pos-integration-service.json'

export function alertRules(): AlertRule[] {
  const file = readYaml(ALERT_RULES_PATH) as { groups: { rules: AlertRule[] }[] }
  return file.groups.flatMap((group) => group.rules)
}

/** The PromQL expressions of the dashboard's panels. */
export function dashboardExpressions(): string[] {
  const dashboard = JSON.parse(readRepoFile(DASHBOARD_PATH)) as {
    panels: { targets?: { expr?: string }[] }[]
    templating: { list: { query?: unknown; definition?: string }[] }
  }
  const fromPanels = dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr))
  const fromVariables = dashboard.templating.list.map((variable) => variable.definition)
  return [...fromPanels, ...fromVariables].filter((expr): expr is string => typeof expr === 'string')
}

const NOT_METRICS = new Set(['and', 'or', 'unless', 'offset', 'bool', 'inf', 'nan'])

/**
 * The metric names a PromQL expression (or a Grafana label_values query) selects. String literals, label
 * matchers, ranges, grouping clauses and function names are taken out first; what is left that looks like a
 * name is a metric.
 */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    // Grafana's label_values(metric, label): the second argument is a label.
    .replace(/\blabel_values\s*\(([^,()]*),\s*\w+\s*\)/g, ' $1 ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\b[a-z_]+\s*\(/g, ' (')
  const names = stripped.match(/(?<![\w$.])[a-zA-Z_:][\w:]*/g) ?? []
  return [...new Set(names.filter((name) => !NOT_METRICS.has(name.toLowerCase())))]
}

/** The route label values an expression matches exactly (route="..."), method included when given. */
export function routeMatchers(expr: string): { method: string | undefined; url: string }[] {
  const found: { method: string | undefined; url: string }[] = []
  for (const [, matchers] of expr.matchAll(/\{([^}]*)\}/g)) {
    const route = /\broute="([^"]+)"/.exec(matchers!)?.[1]
    if (route === undefined) continue
    found.push({ method: /\bmethod="([^"]+)"/.exec(matchers!)?.[1], url: route })
  }
  return found
}
