// Driving a server with autocannon, and what one run measured: rates, latency, answers, and the server's own
// CPU time per answer.
import autocannon from 'autocannon'
import type { Usage } from './usage.js'

export interface RunFigures {
  readonly requestsPerSecond: number
  /** requestsPerSecond times the events each request carries (1 but in batch mode). */
  readonly eventsPerSecond: number
  readonly latencyMs: {
    readonly p50: number
    readonly p99: number
    readonly mean: number
    readonly max: number
  }
  readonly responses: number
  readonly statusCodes: Record<string, number>
  readonly non2xx: number
  readonly errors: number
  readonly timeouts: number
  readonly durationS: number
  /**
   * CPU time of the server process per response, in microseconds (its own user and system time). When several
   * loads run at once against one server (read mode), the time is shared out over all their responses.
   */
  readonly cpuUsPerResponse: number
  readonly cpuUsPerEvent: number
  /** CPU time of the database's backends per response, shared out like the server's. */
  readonly databaseCpuUsPerResponse: number
  /** Share of the machine's CPU that stayed idle during the run, 0 to 1: near 0, the cores were the limit. */
  readonly machineIdle: number
}

export interface LoadOptions {
  readonly url: string
  readonly seconds: number
  readonly connections: number
  /** Requests per second across all connections, or undefined for as fast as the server answers. */
  readonly rate?: number | undefined
  readonly requests: autocannon.Request[]
}

export function drive(options: LoadOptions): Promise<autocannon.Result> {
  const { url, seconds, connections, rate, requests } = options
  return autocannon({
    url,
    connections,
    duration: seconds,
    ...(rate === undefined ? {} : { overallRate: rate }),
    requests,
  })
}

const answered = (result: autocannon.Result) => result['2xx'] + result['4xx'] + result['5xx']

/**
 * The figures of one run. `usage` is what the server, the database and the machine used meanwhile;
 * `sharedWith` are the results of the other loads that ran against it at the same time, if any.
 */
export function figuresOf(
  result: autocannon.Result,
  usage: Usage,
  eventsPerRequest = 1,
  sharedWith: readonly autocannon.Result[] = [],
): RunFigures {
  const statusCodes: Record<string, number> = {}
  for (const [code, stats] of Object.entries(result.statusCodeStats ?? {}))
    statusCodes[code] = stats.count ?? 0
  const responses = [result, ...sharedWith].reduce((sum, each) => sum + answered(each), 0)
  const perResponse = (seconds: number) => (seconds * 1e6) / Math.max(1, responses)
  const cpuUsPerResponse = perResponse(usage.serverS)
  return {
    requestsPerSecond: result.requests.average,
    eventsPerSecond: result.requests.average * eventsPerRequest,
    latencyMs: {
      p50: result.latency.p50,
      p99: result.latency.p99,
      mean: result.latency.average,
      max: result.latency.max,
    },
    responses: result['1xx'] + result['2xx'] + result['3xx'] + result['4xx'] + result['5xx'],
    statusCodes,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    durationS: result.duration,
    cpuUsPerResponse,
    cpuUsPerEvent: cpuUsPerResponse / eventsPerRequest,
    databaseCpuUsPerResponse: perResponse(usage.databaseS),
    machineIdle: usage.machineIdle,
  }
}

export const fixed = (value: number, digits = 1) => value.toFixed(digits)

/** A Markdown table, the first column left-aligned and the others right-aligned. */
export function markdownTable(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)))
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join(' | ')} |`
  const rule = `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`
  return [line(head), rule, ...rows.map(line)].join('\n')
}
