// A server under test as a child process of its own (so it gets a core's worth of CPU, not the load
// generator's event loop): started on a free port, awaited until /startupz answers 200, stopped with SIGTERM.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'

const serverDir = fileURLToPath(new URL('../../', import.meta.url))
const OUTPUT_KEPT = 64 * 1024

export interface ServerProcess {
  readonly name: string
  readonly url: string
  readonly pid: number | undefined
  /** The last 64 KiB the process wrote to stdout and stderr. */
  output(): string
  /** SIGTERM, then the exit code; SIGKILL and an error when it does not exit within timeoutMs. */
  stop(timeoutMs?: number): Promise<number | null>
  /** Sends `signal` (the chaos suite's SIGKILL) and resolves with the exit code, or null for a signal. */
  kill(signal: NodeJS.Signals): Promise<number | null>
  /** Resolves with the exit code (null when a signal ended the process) whenever the process exits. */
  readonly exited: Promise<number | null>
  /**
   * CPU seconds (user and system) the process has used so far, from /proc: what a request costs the server
   * itself, whatever else the machine is doing.
   */
  cpuSeconds(): number
}

/** Clock ticks per second of /proc's CPU times. */
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100

export function cpuSecondsOf(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN
  // The fields after the command name, which is in parentheses and may hold spaces: utime and stime are the
  // 12th and 13th of them.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS
}

export async function freePort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1')
  await once(probe, 'listening')
  const address = probe.address()
  probe.close()
  if (address === null || typeof address === 'string') throw new Error('no TCP port')
  return address.port
}

/** The status /startupz answers, or 0 while nothing listens yet. */
async function readinessOf(url: string): Promise<number> {
  try {
    const response = await fetch(`${url}/startupz`)
    await response.arrayBuffer()
    return response.status
  } catch {
    return 0
  }
}

function exitOf(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode)
  return once(child, 'exit').then(([code]) => code as number | null)
}

/** Runs `node --import tsx <script>` in packages/server with the given environment. */
export async function startServerProcess(
  name: string,
  script: string,
  env: Record<string, string>,
  readyTimeoutMs = 60_000,
): Promise<ServerProcess> {
  const port = await freePort()
  // BENCH_NODE_ARGS, e.g. '--cpu-prof --cpu-prof-dir=/tmp/prof', profiles the servers under load. Each server
  // writes into a folder of the directory named after it, one profile per thread (the main thread, and tsx's
  // module loader thread); npm run bench:profile-summary reads them.
  const nodeArgs = (process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? []).map((arg) =>
    arg.startsWith('--cpu-prof-dir=') ? `${arg}/${name.replace(/[^\w.-]+/g, '-')}` : arg,
  )
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', script], {
    cwd: serverDir,
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-OUTPUT_KEPT)
  }
  child.stdout!.on('data', keep)
  child.stderr!.on('data', keep)
  const exited = exitOf(child)
  const server: ServerProcess = {
    name,
    url: `http://127.0.0.1:${port}`,
    pid: child.pid,
    output: () => output,
    cpuSeconds: () => cpuSecondsOf(child.pid),
    exited,
    kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      return exited
    },
    async stop(timeoutMs = 30_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      // The timer must not keep the caller's process alive once the server has exited.
      const code = await Promise.race([exited, sleep(timeoutMs, 'timeout' as const, { ref: false })])
      if (code !== 'timeout') return code
      child.kill('SIGKILL')
      await exited
      throw new Error(`${name} did not exit within ${timeoutMs} ms of SIGTERM`)
    },
  }

  const deadline = Date.now() + readyTimeoutMs
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `${name} exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${output}`,
      )
    }
    const status = await readinessOf(server.url)
    if (status === 200) return server
    if (Date.now() > deadline) {
      await server.stop().catch(() => undefined)
      throw new Error(`${name} was not ready within ${readyTimeoutMs} ms:\n${output}`)
    }
    await sleep(100)
  }
}
