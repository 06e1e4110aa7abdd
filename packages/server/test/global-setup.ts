// Once per test run: a directory where the test processes record the answers of the API, and, at the end, the
// check of every recorded answer against the OpenAPI document (test/helpers/response-check.ts). A
// disagreement fails the run.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestProject } from 'vitest/node'
import { checkRecordedResponses } from './helpers/response-check.js'

export default function setup(project: TestProject): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'pos-responses-'))
  project.provide('responseRecordDir', dir)
  return () => {
    try {
      const started = performance.now()
      const { checked, failures } = checkRecordedResponses(dir, project.config.root)
      const took = Math.round(performance.now() - started)
      if (failures.length > 0) {
        // Vitest reports an error thrown here but still exits 0: the exit code is set instead.
        console.error(
          `${failures.length} answers of the test suite disagree with the OpenAPI document:\n  ${failures.join('\n  ')}`,
        )
        process.exitCode = 1
        return
      }
      if (checked > 0)
        console.log(`OpenAPI: ${checked} recorded answers fit the document (checked in ${took} ms)`)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }
}
