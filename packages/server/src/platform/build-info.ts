// What build is running: the package version and the git commit, read once at start.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

const packageJson = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string
}

function gitCommit(): string {
  const fromEnv = process.env.GIT_COMMIT?.trim()
  if (fromEnv) return fromEnv
  try {
    return execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], {
      cwd: new URL('.', import.meta.url),
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 2000,
    })
      .toString()
      .trim()
  } catch {
    return 'unknown'
  }
}

export const buildInfo = Object.freeze({ version: packageJson.version, commit: gitCommit() })
