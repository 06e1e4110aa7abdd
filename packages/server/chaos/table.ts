// The chaos suite's verdict as Markdown tables: printed at the end of a run, and pasted as they are into
// docs/reliability.md.
import type { ChaosVerdict } from './checker.js'

function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const escapeCell = (cell: string) => cell.replaceAll('|', '\\|')
  const line = (cells: readonly string[]) => `| ${cells.map(escapeCell).join(' | ')} |`
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n')
}

const mark = (ok: boolean) => (ok ? 'ok' : 'FAIL')

/** What a run was, for the heading: all it takes to send the same load again. */
export interface RunHeading {
  readonly seed: number
  readonly short: boolean
  readonly durationMs: number
}

/** The command that sends the same load again, under the same fault schedule. */
export const sameRunAgain = (run: RunHeading): string =>
  `npm run chaos -- --seed ${run.seed}${run.short ? ' --short' : ''} --duration ${run.durationMs / 1000}`

export function formatVerdict(verdict: ChaosVerdict, run: RunHeading): string {
  const heading = `Chaos run, seed ${run.seed}, ${run.short ? 'short' : 'full'} (again: \`${sameRunAgain(run)}\`)`
  const checks = markdownTable(
    ['Check', 'Value', 'Expected', ''],
    verdict.rows.map((row) => [row.check, row.value, row.expected, mark(row.ok)]),
  )
  const faults = markdownTable(
    ['Fault', 'At (s)', 'Lasted (s)', 'Recovery (s)', 'Notes', ''],
    verdict.faults.map((fault) => [
      fault.fault,
      String(fault.atS),
      String(fault.lastedS),
      fault.recoveryS === null ? 'never' : String(fault.recoveryS),
      fault.notes,
      mark(fault.ok),
    ]),
  )
  const examples = Object.entries(verdict.examples).map(([name, items]) => `- ${name}: ${items.join(', ')}`)
  const outcome = verdict.ok
    ? 'chaos suite passed'
    : `chaos suite FAILED:\n${verdict.violations.map((v) => `- ${v}`).join('\n')}`
  return [
    heading,
    '',
    checks,
    '',
    faults,
    ...(examples.length > 0 ? ['', 'Examples:', ...examples] : []),
    '',
    outcome,
    '',
  ].join('\n')
}
