// The CLI's own entry, run in this test's process against a test database; its output is collected.
import { runCli } from '../../src/cli/index.js'
import { TEST_ENCRYPTION_KEY } from './secrets.js'

export interface CliResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** `env` adds to (or overrides) the database settings, e.g. REDIS_URL. */
export async function runCliOn(
  databaseUrl: string,
  argv: readonly string[],
  env: Readonly<Record<string, string>> = {},
): Promise<CliResult> {
  let stdout = ''
  let stderr = ''
  const code = await runCli(argv, {
    env: { DATABASE_URL: databaseUrl, ENCRYPTION_KEY: TEST_ENCRYPTION_KEY, ...env },
    stdout: (text) => {
      stdout += text
    },
    stderr: (text) => {
      stderr += text
    },
  })
  return { code, stdout, stderr }
}
