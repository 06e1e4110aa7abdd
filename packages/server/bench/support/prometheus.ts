// Reading the service's /metrics: the Prometheus text exposition, and single samples out of it.

const LABEL = /(\w+)="((?:[^"\\]|\\.)*)"/g

/** The /metrics text of a running server. */
export async function metricsText(baseUrl: string): Promise<string> {
  const response = await fetch(new URL('/metrics', baseUrl))
  const text = await response.text()
  if (response.status !== 200) throw new Error(`GET /metrics answered ${response.status}`)
  return text
}

const unescapeLabel = (value: string) => value.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c))

/** The value of the first sample of `name` carrying these labels (and maybe others); 0 when there is none. */
export function sampleValue(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    const labelled = line.startsWith(`${name}{`)
    if (!labelled && !line.startsWith(`${name} `)) continue
    const end = labelled ? line.lastIndexOf('}') + 1 : name.length
    const found = new Map<string, string>()
    for (const [, key, value] of line.slice(name.length, end).matchAll(LABEL))
      found.set(key!, unescapeLabel(value!))
    if (Object.entries(labels).every(([key, value]) => found.get(key) === value)) {
      return Number(line.slice(end).trim().split(' ')[0])
    }
  }
  return 0
}

/** The mean of an unlabelled histogram: its _sum over its _count. */
export function histogramMean(text: string, name: string): number {
  const count = sampleValue(text, `${name}_count`)
  return count === 0 ? 0 : sampleValue(text, `${name}_sum`) / count
}
