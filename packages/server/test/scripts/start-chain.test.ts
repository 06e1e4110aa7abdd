// What `npm start` at the repository root runs, read from the package.json files as npm would run them (each
// `npm run <script> [-w <workspace>]` followed into its package, with its pre and post scripts): it must build
// what the server serves, the console included, before the server starts. Otherwise `npm ci && npm start`
// answers /dashboard/ with "run npm run build".
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { DEFAULT_DASHBOARD_DIR } from '../../src/modules/dashboard/static.js'
import { repoRoot } from '../deploy/deploy-files.js'

interface Package {
  readonly name: string
  readonly dir: string
  readonly scripts: Readonly<Record<string, string>>
}

interface Step {
  /** The folder npm runs the command in: its package's. */
  readonly dir: string
  readonly command: string
}

function readPackage(dir: string): Package {
  const json = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Package
  return { name: json.name, dir, scripts: json.scripts ?? {} }
}

const root = readPackage(repoRoot)
const workspaces = new Map(
  ['contracts', 'sdk', 'dashboard', 'server'].map((folder) => {
    const workspace = readPackage(join(repoRoot, 'packages', folder))
    return [workspace.name, workspace]
  }),
)
const workspace = (name: string) => workspaces.get(name) ?? expect.unreachable(`no workspace ${name}`)

const NPM_RUN = /^npm (?:run (\S+)|(start|test))(?: (?:-w|--workspace) (\S+))?$/

/** The commands `npm run <script>` in `pack` runs, in order, every npm call followed. */
function expand(pack: Package, script: string): Step[] {
  const body = pack.scripts[script]
  if (body === undefined) throw new Error(`${pack.name} has no script ${script}`)
  return [`pre${script}`, script, `post${script}`].flatMap((name) =>
    (pack.scripts[name] ?? '')
      .split('&&')
      .map((part) => part.trim())
      .filter((part) => part !== '')
      .flatMap((part): Step[] => {
        const call = NPM_RUN.exec(part)
        if (call === null) return [{ dir: pack.dir, command: part }]
        const target = call[3] === undefined ? pack : workspace(call[3])
        return expand(target, call[1] ?? call[2] ?? '')
      }),
  )
}

describe('npm start', () => {
  const steps = expand(root, 'start')
  const at = (folder: string, command: string) =>
    steps.findIndex((step) => step.dir === join(repoRoot, 'packages', folder) && step.command === command)
  const serve = at('server', 'node dist/main.js')

  it('starts the compiled server last', () => {
    expect(serve).toBeGreaterThanOrEqual(0)
    expect(serve).toBe(steps.length - 1)
  })

  it('compiles the contracts and the server before it starts', () => {
    const contracts = at('contracts', 'tsc -p tsconfig.build.json')
    const server = at('server', 'tsc -p tsconfig.build.json')
    expect(contracts).toBeGreaterThanOrEqual(0)
    expect(server).toBeGreaterThan(contracts)
    expect(server).toBeLessThan(serve)
  })

  it('builds the console into the folder the server serves, after checking its types', () => {
    const typecheck = at('dashboard', 'tsc -p tsconfig.json --noEmit')
    const bundle = at('dashboard', 'vite build')
    expect(typecheck).toBeGreaterThanOrEqual(0)
    expect(bundle).toBeGreaterThan(typecheck)
    expect(bundle).toBeLessThan(serve)
    const viteConfig = readFileSync(join(repoRoot, 'packages/dashboard/vite.config.ts'), 'utf8')
    expect(viteConfig).toMatch(/outDir: 'dist'/)
    expect(join(repoRoot, 'packages/dashboard/dist/')).toBe(DEFAULT_DASHBOARD_DIR)
  })

  it('compiles incrementally, so a start with nothing changed does not compile everything again', () => {
    for (const config of [
      'packages/contracts/tsconfig.build.json',
      'packages/server/tsconfig.build.json',
      'packages/dashboard/tsconfig.json',
    ]) {
      const { compilerOptions } = JSON.parse(readFileSync(join(repoRoot, config), 'utf8')) as {
        compilerOptions: { incremental?: boolean }
      }
      expect(compilerOptions.incremental, config).toBe(true)
    }
  })
})
