// npm run docs:check: the README and the guides under docs/ agree with package.json, and their shell samples
// still run. Fails when a guide's footer (its last line, "Checked against version X") or the README's names
// another version, when a workspace package or the API reference page (/docs) does, or when a sample exits
// non-zero: every ```sh block of the README and the guides runs, in document order, against one fresh
// embedded server (the built one, on PGlite in a temporary DATA_DIR), with curl failing on an HTTP error.
// A block that cannot run on its own (it needs PostgreSQL, a provider account, or runs until stopped) is
// marked on the line before its fence: <!-- docs-check: skip (why) -->.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const SERVER = join(ROOT, 'packages/server/dist/main.js')
const SHELL_LANGUAGES = new Set(['sh', 'bash', 'shell'])
const SKIP_MARKER = /^<!--\s*docs-check:\s*skip\b\s*(.*?)\s*-->$/
const FOOTER = /Checked against version (\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)/
const SAMPLE_TIMEOUT_MS = 120_000

export interface Sample {
  readonly file: string
  /** The line of the opening fence, from 1. */
  readonly line: number
  readonly code: string
  /** Why the sample is not run, when it is marked so. */
  readonly skip?: string
}

/** The shell samples of a markdown text, with the skip marker each carries. */
export function shellSamples(file: string, text: string): Sample[] {
  const lines = text.split('\n')
  const samples: Sample[] = []
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([\w-]*)/.exec(lines[i] ?? '')
    if (!open) continue
    const fence = open[2] as string
    const start = i
    const body: string[] = []
    for (i++; i < lines.length && !(lines[i] ?? '').trim().startsWith(fence); i++) body.push(lines[i] ?? '')
    if (!SHELL_LANGUAGES.has((open[3] ?? '').toLowerCase())) continue
    let previous = start - 1
    while (previous >= 0 && (lines[previous] ?? '').trim() === '') previous--
    const marker = SKIP_MARKER.exec((lines[previous] ?? '').trim())
    const reason = marker?.[1]?.replace(/^\((.*)\)$/, '$1')
    samples.push({
      file,
      line: start + 1,
      code: body.join('\n'),
      ...(marker ? { skip: reason || 'marked' } : {}),
    })
  }
  return samples
}

/** The version a document's last non-empty line says it was checked against. */
export function footerVersion(text: string): string | undefined {
  const last = text.trimEnd().split('\n').at(-1) ?? ''
  return FOOTER.exec(last)?.[1]
}

function markdownFiles(): string[] {
  const guides: string[] = []
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) walk(path)
      else if (entry.name.endsWith('.md')) guides.push(path)
    }
  }
  walk(join(ROOT, 'docs'))
  return [join(ROOT, 'README.md'), ...guides.sort()]
}

const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as { version: string }

/** Every place that names a version other than package.json's. */
function versionDisagreements(version: string, files: readonly string[]): string[] {
  const problems: string[] = []
  for (const name of readdirSync(join(ROOT, 'packages'))) {
    const path = join(ROOT, 'packages', name, 'package.json')
    if (!existsSync(path)) continue
    const own = readJson(path).version
    if (own !== version) problems.push(`packages/${name}/package.json is version ${own}`)
  }
  for (const file of files) {
    const found = footerVersion(readFileSync(file, 'utf8'))
    const name = relative(ROOT, file)
    if (found === undefined) problems.push(`${name} does not end with "Checked against version ${version}."`)
    else if (found !== version) problems.push(`${name} was checked against version ${found}`)
  }
  return problems
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject()))
    })
  })
}

interface Running {
  readonly process: ChildProcess
  readonly url: string
  readonly output: () => string
}

async function startServer(adminToken: string, dataDir: string): Promise<Running> {
  const port = await freePort()
  let output = ''
  // The embedded database, whatever the caller's environment says.
  const { DATABASE_URL: _database, REDIS_URL: _redis, ...inherited } = process.env
  const child = spawn(process.execPath, [SERVER], {
    cwd: ROOT,
    env: {
      ...inherited,
      DATA_DIR: dataDir,
      HOST: '127.0.0.1',
      PORT: String(port),
      ADMIN_TOKEN: adminToken,
      LOG_LEVEL: 'warn',
      SHUTDOWN_READINESS_DELAY_MS: '0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break
    const ready = await fetch(`${url}/startupz`).then(
      (res) => res.ok,
      () => false,
    )
    if (ready) return { process: child, url, output: () => output }
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  child.kill('SIGKILL')
  throw new Error(`the server did not start within 60 s:\n${output}`)
}

async function stopServer(server: Running): Promise<void> {
  if (server.process.exitCode !== null) return
  const exited = new Promise((resolve) => server.process.once('exit', resolve))
  server.process.kill('SIGTERM')
  const timer = setTimeout(() => server.process.kill('SIGKILL'), 20_000)
  await exited
  clearTimeout(timer)
}

/** The credentials the samples use: the demo tenant (created at first start) and a key with every scope. */
async function sampleCredentials(url: string, adminToken: string) {
  const call = async (path: string, body?: object) => {
    const res = await fetch(`${url}${path}`, {
      method: body ? 'POST' : 'GET',
      headers: {
        authorization: `Bearer ${adminToken}`,
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      ...(body ? { body: JSON.stringify(body) } : {}),
    })
    if (!res.ok) throw new Error(`${path} answered ${res.status}: ${await res.text()}`)
    return (await res.json()) as Record<string, unknown>
  }
  const tenants = (await call('/v1/admin/tenants')).data as { id: string; name: string }[]
  let tenant = tenants.find((candidate) => candidate.name === 'demo')?.id
  if (tenant === undefined) {
    tenant = (await call('/v1/admin/tenants', { name: 'demo' })).id as string
    await call(`/v1/admin/tenants/${tenant}/sources`, { name: 'demo', kind: 'sdk' })
  }
  const { key } = await call(`/v1/admin/tenants/${tenant}/api-keys`, { name: 'docs-check' })
  return { tenant, key: key as string }
}

/** The sample as it runs here: the documented address becomes the test server's, placeholders variables. */
function runnable(code: string, url: string): string {
  const host = new URL(url).host
  return code.replaceAll(/\b(?:localhost|127\.0\.0\.1):3000\b/g, host).replaceAll('<tenantId>', '"$TENANT"')
}

// curl as `curl -fsS`: an HTTP error fails the sample, and its message is shown.
const PRELUDE = 'set -eo pipefail\ncurl() { command curl -fsS --max-time 30 "$@"; }\n'

async function main(): Promise<void> {
  const version = readJson(join(ROOT, 'package.json')).version
  const files = markdownFiles()
  const failures = versionDisagreements(version, files)
  const samples = files.flatMap((file) => shellSamples(relative(ROOT, file), readFileSync(file, 'utf8')))

  if (!existsSync(SERVER)) throw new Error('packages/server/dist/main.js is missing: run npm run build first')
  const adminToken = randomBytes(24).toString('hex')
  const dataDir = mkdtempSync(join(tmpdir(), 'pos-docs-check-'))
  const workDir = mkdtempSync(join(tmpdir(), 'pos-docs-samples-'))
  const server = await startServer(adminToken, dataDir)
  let ran = 0
  try {
    const page = await (await fetch(`${server.url}/docs`)).text()
    if (!page.includes(`version ${version} `))
      failures.push(`the API reference page (/docs) does not show version ${version}`)
    const { tenant, key } = await sampleCredentials(server.url, adminToken)
    const env = {
      ...process.env,
      URL: server.url,
      ADMIN_TOKEN: adminToken,
      API_KEY: key,
      POS_API_KEY: key,
      TENANT: tenant,
    }
    for (const sample of samples) {
      const where = `${sample.file}:${sample.line}`
      if (sample.skip !== undefined) {
        console.log(`skip ${where} (${sample.skip})`)
        continue
      }
      const result = spawnSync('bash', ['-c', PRELUDE + runnable(sample.code, server.url)], {
        // npm scripts run from the repository, as the README says; anything else in a scratch directory.
        cwd: /\bnpm\b/.test(sample.code) ? ROOT : workDir,
        env,
        encoding: 'utf8',
        timeout: SAMPLE_TIMEOUT_MS,
      })
      ran++
      if (result.status === 0) {
        console.log(`ok   ${where}`)
        continue
      }
      const why = result.error ? result.error.message : `exit ${result.status ?? result.signal}`
      console.log(`FAIL ${where} (${why})\n${result.stdout}${result.stderr}`)
      failures.push(`the sample at ${where} failed (${why})`)
    }
  } finally {
    await stopServer(server)
    rmSync(dataDir, { recursive: true, force: true })
    rmSync(workDir, { recursive: true, force: true })
  }
  if (failures.length > 0) {
    console.error(`docs:check failed:\n  ${failures.join('\n  ')}`)
    if (failures.some((failure) => failure.includes('sample'))) console.error(server.output())
    process.exitCode = 1
    return
  }
  console.log(
    `docs:check: version ${version} everywhere; ${ran} samples ran, ${samples.length - ran} skipped`,
  )
}

// Run as a script, not when a test imports its parsers.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main()
