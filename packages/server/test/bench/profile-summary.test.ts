// The profile summary reads real V8 CPU profiles: one recorded here with node --cpu-prof on a short script
// that spends its time in a named function of its own, in a native write and in a node: module.
import { execFile } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type CpuProfile,
  groupOf,
  renderComparison,
  renderSummary,
  summarizeProfile,
  threadOf,
} from '../../bench/profile-summary.js'

const run = promisify(execFile)

const SCRIPT = `
import { createHash } from 'node:crypto'
import { openSync, writeSync } from 'node:fs'
function spinForProfile(until) {
  let x = 0
  while (Date.now() < until) x += Math.sqrt(x + 1)
  return x
}
function writeForProfile(until) {
  const fd = openSync('/dev/null', 'w')
  let n = 0
  while (Date.now() < until) n += writeSync(fd, 'x'.repeat(100))
  return n
}
function hashForProfile(until) {
  let n = 0
  while (Date.now() < until) n += createHash('sha256').update('x'.repeat(64)).digest().length
  return n
}
spinForProfile(Date.now() + 150)
writeForProfile(Date.now() + 150)
hashForProfile(Date.now() + 150)
`

describe('bench:profile-summary', () => {
  let dir: string
  let profile: CpuProfile

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'profile-summary-'))
    await writeFile(join(dir, 'spin.mjs'), SCRIPT)
    await run(
      process.execPath,
      ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--cpu-prof-interval=250', 'spin.mjs'],
      {
        cwd: dir,
      },
    )
    const [file] = (await readdir(dir)).filter((name) => name.endsWith('.cpuprofile'))
    expect(threadOf(file!)).toMatch(/^ \(pid \d+, main thread\)$/)
    profile = JSON.parse(await readFile(join(dir, file!), 'utf8')) as CpuProfile
  }, 30_000)

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it("attributes a function's own time to it, grouped by the file it is in", () => {
    const summary = summarizeProfile(profile, dir)
    const spin = summary.functions.find((fn) => fn.name === 'spinForProfile')
    expect(spin).toMatchObject({
      group: 'our code: spin.mjs',
      location: expect.stringMatching(/^spin\.mjs:\d+$/),
    })
    // It ran for 150 ms of the profile, and alone on its thread; no exact figure, a sampler is not a clock.
    expect(spin!.selfMs).toBeGreaterThan(50)
    expect(summary.groups.some((g) => g.group === 'V8 builtins and native' && g.selfMs > 0)).toBe(true)
    expect(summary.groups.some((g) => g.group === 'node internals' && g.selfMs > 0)).toBe(true)
  })

  it('shares the whole profile out over the groups, nothing counted twice or left out', () => {
    const summary = summarizeProfile(profile, dir)
    const groups = summary.groups.reduce((sum, g) => sum + g.selfMs, 0)
    const functions = summary.functions.reduce((sum, fn) => sum + fn.selfMs, 0)
    expect(groups).toBeCloseTo(summary.totalMs, 6)
    expect(functions).toBeCloseTo(summary.totalMs, 6)
    // From the first sample to the end of the profile.
    const firstSample = profile.startTime + profile.timeDeltas[0]!
    expect(summary.totalMs).toBeCloseTo((profile.endTime - firstSample) / 1000, 6)
  })

  it('prints Markdown tables of the groups and the top functions', () => {
    const text = renderSummary(summarizeProfile(profile, dir), 5)
    expect(text).toContain('| group | self ms | of busy |')
    expect(text).toMatch(/\| spinForProfile \| spin\.mjs:\d+ \| \d+ \| [\d.]+ % \|/)
    const functionRows = text.split('| function |')[1]!.trim().split('\n').slice(2)
    expect(functionRows).toHaveLength(5)
  })

  it('compares profiles side by side, our files as one group, shares of busy time', () => {
    const summary = summarizeProfile(profile, dir)
    const text = renderComparison([
      { name: 'first', summary },
      { name: 'second', summary },
    ])
    const rows = text.split('\n')
    expect(rows[0]).toBe('| group | first | second |')
    expect(rows[2]).toBe(`| busy ms | ${summary.busyMs.toFixed(0)} | ${summary.busyMs.toFixed(0)} |`)
    const ours = rows.find((row) => row.startsWith('| our code (all files) |'))
    expect(ours).toMatch(/^\| our code \(all files\) \| ([\d.]+) % \| \1 % \|$/)
    expect(rows.some((row) => row.startsWith('| idle |'))).toBe(false)
  })

  it('names libraries, node internals and special frames', () => {
    const root = '/repo'
    expect(groupOf('query', 'file:///repo/node_modules/pg/lib/client.js', root).group).toBe('pg')
    expect(groupOf('x', 'file:///repo/node_modules/@fastify/ajv-compiler/index.js', root).group).toBe(
      'fastify',
    )
    expect(groupOf('x', 'file:///repo/node_modules/ioredis/built/Redis.js', root).group).toBe('ioredis')
    expect(groupOf('x', 'file:///repo/node_modules/left-pad/index.js', root).group).toBe('npm: left-pad')
    expect(groupOf('x', 'file:///repo/packages/server/src/app.ts', root)).toEqual({
      group: 'our code: server/src/app.ts',
      location: 'server/src/app.ts',
    })
    expect(groupOf('writev', 'node:internal/stream_base_commons', root).group).toBe('node internals')
    expect(groupOf('resolve', 'node:internal/modules/esm/resolve', root).group).toBe('node: module loading')
    expect(groupOf('(garbage collector)', '', root).group).toBe('GC')
    expect(groupOf('(idle)', '', root).group).toBe('idle')
  })
})
