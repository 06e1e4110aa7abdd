// npm run bench:profile-summary -- <dir or .cpuprofile files> [--top N]: where a server's CPU time went, from
// the V8 CPU profiles `BENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=<dir>' npm run bench` leaves (a folder per
// server, a profile per thread: the main one, and tsx's module loader). For each profile it prints two Markdown tables: self time by group (our code by
// file, node internals, V8 builtins, pg, ioredis, fastify, pino, other packages, GC, idle) and the functions
// with the most self time. Self time is what a function ran itself, not its callees. With --compare, one table
// instead: the groups' shares of busy time, a column per server's main thread, to put the modes side by side.
import { readdir, readFile, stat } from 'node:fs/promises'
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { repoRoot, userPath } from './support/artifacts.js'
import { positiveInteger } from './support/options.js'

/** The parts of a .cpuprofile (the DevTools Profiler.Profile) this reads. */
export interface CpuProfile {
  readonly nodes: readonly {
    readonly id: number
    readonly callFrame: {
      readonly functionName: string
      readonly url: string
      readonly lineNumber: number
    }
  }[]
  readonly startTime: number
  readonly endTime: number
  readonly samples: readonly number[]
  /** Microseconds since the previous sample (the first: since startTime). */
  readonly timeDeltas: readonly number[]
}

export interface FunctionTime {
  readonly name: string
  readonly group: string
  /** Where it is: a path relative to the repository (or the package), and its line. */
  readonly location: string
  readonly selfMs: number
}

export interface ProfileSummary {
  readonly totalMs: number
  /** Every sample's time, idle included; busy is total less idle. */
  readonly busyMs: number
  readonly groups: readonly { readonly group: string; readonly selfMs: number }[]
  readonly functions: readonly FunctionTime[]
}

/** Packages that belong to one library as the table names it. */
const PACKAGE_GROUPS: Record<string, readonly string[]> = {
  pg: [
    'pg',
    'pg-pool',
    'pg-protocol',
    'pg-types',
    'pg-connection-string',
    'postgres-array',
    'postgres-bytea',
  ],
  ioredis: ['ioredis', '@ioredis/commands', 'redis-parser', 'redis-errors', 'standard-as-callback'],
  fastify: [
    'fastify',
    'find-my-way',
    'avvio',
    'fast-json-stringify',
    'light-my-request',
    'secure-json-parse',
    'fast-querystring',
    'fast-uri',
    'ajv',
    'ajv-formats',
    'toad-cache',
    'rfdc',
    'fast-decode-uri-component',
    'process-warning',
    'json-schema-ref-resolver',
  ],
  pino: [
    'pino',
    'sonic-boom',
    'thread-stream',
    'pino-std-serializers',
    'fast-redact',
    'quick-format-unescaped',
  ],
  drizzle: ['drizzle-orm'],
  'tsx (loader)': ['tsx', 'esbuild', 'get-tsconfig'],
}
const GROUP_OF_PACKAGE = new Map(
  Object.entries(PACKAGE_GROUPS).flatMap(([group, names]) => names.map((name) => [name, group] as const)),
)

const SPECIAL: Record<string, string> = {
  '(idle)': 'idle',
  '(garbage collector)': 'GC',
  '(program)': 'V8 and native (program)',
  '(root)': 'V8 and native (program)',
}

/**
 * The group of a call frame: GC, idle and the like by their names; `node:` modules as node internals; frames
 * without a script as V8 builtins (JSON.parse, a native write); packages by library; our files one by one.
 */
export function groupOf(
  functionName: string,
  url: string,
  root: string,
): { group: string; location: string } {
  const special = SPECIAL[functionName]
  if (special !== undefined && url === '') return { group: special, location: '' }
  if (url === '') return { group: 'V8 builtins and native', location: '' }
  if (url.startsWith('wasm://')) return { group: 'wasm', location: url }
  // Loading modules is start-up (and tsx's hooks), not what a request costs.
  if (/^node:internal\/(modules|source_map)\//.test(url))
    return { group: 'node: module loading', location: url }
  if (url.startsWith('node:')) return { group: 'node internals', location: url }
  const path = url.startsWith('file://') ? fileURLToPath(url) : url
  const modules = path.lastIndexOf('/node_modules/')
  if (modules !== -1) {
    const rest = path.slice(modules + '/node_modules/'.length).split('/')
    const name = rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!
    const group = GROUP_OF_PACKAGE.get(name) ?? (name.startsWith('@fastify/') ? 'fastify' : `npm: ${name}`)
    return { group, location: `${name}/${rest.slice(name.split('/').length).join('/')}` }
  }
  const inRepo = relative(root, path)
  if (!isAbsolute(path) || inRepo.startsWith('..')) return { group: `other: ${path}`, location: path }
  // Our packages' files: packages/server/src/x.ts reads as server/src/x.ts.
  const ours = inRepo.replace(/^packages\//, '')
  return { group: `our code: ${ours}`, location: ours }
}

/** Self time per function and per group of one profile; `root` is the repository our files are under. */
export function summarizeProfile(profile: CpuProfile, root: string = repoRoot): ProfileSummary {
  const selfUs = new Map<number, number>()
  const { samples, timeDeltas } = profile
  // A sample lasts until the next one; the last until the profile ends.
  let at = profile.startTime
  const times = timeDeltas.map((delta) => (at += delta))
  for (let i = 0; i < samples.length; i++) {
    const until = i + 1 < times.length ? times[i + 1]! : profile.endTime
    const duration = Math.max(0, until - times[i]!)
    selfUs.set(samples[i]!, (selfUs.get(samples[i]!) ?? 0) + duration)
  }
  const byFunction = new Map<string, FunctionTime>()
  const byGroup = new Map<string, number>()
  let totalUs = 0
  let idleUs = 0
  for (const node of profile.nodes) {
    const us = selfUs.get(node.id) ?? 0
    if (us === 0) continue
    const { functionName, url, lineNumber } = node.callFrame
    const { group, location } = groupOf(functionName, url, root)
    const name = functionName === '' ? '(anonymous)' : functionName
    // tsx hands V8 our TypeScript compiled onto few lines: line 1 of a .ts file says nothing.
    const where = location === '' ? '' : lineNumber === 0 ? location : `${location}:${lineNumber + 1}`
    const key = `${name}\u0000${where}`
    const before = byFunction.get(key)
    byFunction.set(key, { name, group, location: where, selfMs: (before?.selfMs ?? 0) + us / 1000 })
    byGroup.set(group, (byGroup.get(group) ?? 0) + us)
    totalUs += us
    if (group === 'idle') idleUs += us
  }
  const descending = <T extends { selfMs: number }>(items: T[]) => items.sort((a, b) => b.selfMs - a.selfMs)
  return {
    totalMs: totalUs / 1000,
    busyMs: (totalUs - idleUs) / 1000,
    groups: descending([...byGroup].map(([group, us]) => ({ group, selfMs: us / 1000 }))),
    functions: descending([...byFunction.values()]),
  }
}

const percent = (part: number, whole: number) =>
  whole === 0 ? '-' : `${((100 * part) / whole).toFixed(1)} %`

/** Start-up rather than requests: loading and compiling modules. */
const STARTUP_GROUPS = new Set(['node: module loading', 'tsx (loader)'])

/** The two tables of one profile; shares are of the busy time (everything but idle). */
export function renderSummary(summary: ProfileSummary, top: number): string {
  const startupMs = summary.groups
    .filter(({ group }) => STARTUP_GROUPS.has(group))
    .reduce((sum, { selfMs }) => sum + selfMs, 0)
  const groups = summary.groups
    .slice(0, top)
    .map(
      ({ group, selfMs }) =>
        `| ${group} | ${selfMs.toFixed(0)} | ${group === 'idle' ? '' : percent(selfMs, summary.busyMs)} |`,
    )
  const functions = summary.functions
    .filter((fn) => fn.group !== 'idle')
    .slice(0, top)
    .map(
      (fn) =>
        `| ${fn.name} | ${fn.location === '' ? fn.group : fn.location} | ${fn.selfMs.toFixed(0)} | ${percent(fn.selfMs, summary.busyMs)} |`,
    )
  return [
    `${summary.totalMs.toFixed(0)} ms profiled, ${summary.busyMs.toFixed(0)} ms busy (not idle), of which ` +
      `${startupMs.toFixed(0)} ms loading modules (start-up)`,
    '',
    '| group | self ms | of busy |',
    '|---|---:|---:|',
    ...groups,
    '',
    '| function | where | self ms | of busy |',
    '|---|---|---:|---:|',
    ...functions,
  ].join('\n')
}

/**
 * One table for several profiles (a column each): the share of busy time of each group, with our files
 * together as one group, so the modes of a bench run compare side by side.
 */
export function renderComparison(columns: readonly { name: string; summary: ProfileSummary }[]): string {
  const ours = (group: string) => (group.startsWith('our code: ') ? 'our code (all files)' : group)
  // Groups under 1 % of busy time in every column share one row.
  const small = new Set<string>()
  for (const { summary } of columns) for (const { group } of summary.groups) small.add(ours(group))
  for (const { summary } of columns) {
    const byGroup = new Map<string, number>()
    for (const { group, selfMs } of summary.groups)
      byGroup.set(ours(group), (byGroup.get(ours(group)) ?? 0) + selfMs)
    for (const [group, ms] of byGroup) if (ms >= summary.busyMs / 100) small.delete(group)
  }
  const collapse = (group: string) => (small.has(ours(group)) ? 'everything else (each < 1 %)' : ours(group))
  const shares = columns.map(({ summary }) => {
    const byGroup = new Map<string, number>()
    for (const { group, selfMs } of summary.groups)
      if (group !== 'idle') byGroup.set(collapse(group), (byGroup.get(collapse(group)) ?? 0) + selfMs)
    return byGroup
  })
  const totals = new Map<string, number>()
  for (const byGroup of shares)
    for (const [group, ms] of byGroup) totals.set(group, (totals.get(group) ?? 0) + ms)
  const groups = [...totals].sort((a, b) => b[1] - a[1]).map(([group]) => group)
  return [
    `| group | ${columns.map(({ name }) => name).join(' | ')} |`,
    `|---|${columns.map(() => '---:').join('|')}|`,
    `| busy ms | ${columns.map(({ summary }) => summary.busyMs.toFixed(0)).join(' | ')} |`,
    ...groups.map(
      (group) =>
        `| ${group} | ${shares.map((byGroup, i) => percent(byGroup.get(group) ?? 0, columns[i]!.summary.busyMs)).join(' | ')} |`,
    ),
  ].join('\n')
}

/** The .cpuprofile files named, and those in the folders named and in their sub-folders (one per server). */
async function profilesIn(paths: readonly string[]): Promise<string[]> {
  const files: string[] = []
  for (const path of paths) {
    if ((await stat(path)).isDirectory()) {
      const names = (await readdir(path, { recursive: true })).filter((name) => name.endsWith('.cpuprofile'))
      files.push(...names.sort().map((name) => join(path, name)))
    } else files.push(path)
  }
  return files
}

/** Node names a profile CPU.<date>.<time>.<pid>.<thread id>.<sequence>.cpuprofile; thread 0 is the main one. */
export function threadOf(file: string): string {
  const match = /CPU\.\d+\.\d+\.(\d+)\.(\d+)\.\d+\.cpuprofile$/.exec(file)
  if (match === null) return ''
  return match[2] === '0' ? ` (pid ${match[1]}, main thread)` : ` (pid ${match[1]}, thread ${match[2]})`
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: 'string', default: '15' }, compare: { type: 'boolean', default: false } },
  })
  const top = positiveInteger('top', values.top)
  if (positionals.length === 0) {
    process.stderr.write(
      'usage: npm run bench:profile-summary -- <dir or .cpuprofile files> [--top N] [--compare]\n',
    )
    return 2
  }
  const files = await profilesIn(positionals.map(userPath))
  if (files.length === 0) {
    process.stderr.write(`no .cpuprofile files in ${positionals.join(', ')}\n`)
    return 1
  }
  const read = async (file: string) =>
    summarizeProfile(JSON.parse(await readFile(file, 'utf8')) as CpuProfile)
  if (values.compare) {
    // The main threads only: tsx's loader thread does nothing per request.
    const mains = files.filter((file) => !threadOf(file).includes(', thread '))
    const columns = await Promise.all(
      mains.map(async (file) => ({ name: basename(dirname(file)), summary: await read(file) })),
    )
    process.stdout.write(`${renderComparison(columns)}\n`)
    return 0
  }
  for (const file of files) {
    const name = `${basename(dirname(file))}/${basename(file)}${threadOf(file)}`
    process.stdout.write(`### ${name}\n\n${renderSummary(await read(file), top)}\n\n`)
  }
  return 0
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url))
  process.exitCode = await main()
