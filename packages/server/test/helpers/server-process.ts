// The real server as a child process (src/main.ts through tsx), with its log lines collected as they come.
import { type ChildProcess, spawn } from 'node:child_process'
import { TEST_ENCRYPTION_KEY } from './secrets.js'
import { StopWaiting, waitFor } from './wait.js'

const serverDir = new URL('../../', import.meta.url).pathname

export interface ServerProcess {
  readonly child: ChildProcess
  readonly lines: Record<string, unknown>[]
  readonly stderr: () => string
  /** Resolves with the first log line the predicate accepts. */
  waitForLine(
    predicate: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>
  /** Resolves with the exit code. */
  readonly exited: Promise<number | null>
  /** The listener's address, from its log line; waits at most `timeoutMs` (20 s unless given). */
  url(timeoutMs?: number): Promise<string>
  kill(): void
}

/**
 * With DATABASE_URL, the server gets the tests' encryption key unless env has its own. `entry` is the file
 * run: src/main.ts as `npm start` runs it, or src/dev.ts as `npm run dev` does.
 */
export function startServerProcess(env: Record<string, string>, entry = 'src/main.ts'): ServerProcess {
  const encryption = env.DATABASE_URL === undefined ? {} : { ENCRYPTION_KEY: TEST_ENCRYPTION_KEY }
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: serverDir,
    // A plain record: the SDK's tests type-check this helper beside expo's types, which require NODE_ENV.
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', ...encryption, ...env } as Record<
      string,
      string
    > as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const lines: Record<string, unknown>[] = []
  let stderr = ''
  let partial = ''
  child.stdout!.on('data', (chunk: Buffer) => {
    partial += chunk.toString('utf8')
    const complete = partial.split('\n')
    partial = complete.pop() ?? ''
    for (const line of complete) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>)
  })
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8')
  })
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  let exitCode: number | null | undefined
  void exited.then((code) => {
    exitCode = code
  })

  // The default deadline is generous: a server started through tsx on a loaded machine took 18 s to listen.
  // A test's own timeout stays the outer bound.
  async function waitForLine(predicate: (line: Record<string, unknown>) => boolean, timeoutMs = 60_000) {
    const line = () => {
      const found = lines.find(predicate)
      if (found === undefined && exitCode !== undefined)
        throw new StopWaiting(`server exited (${exitCode}) before the line came: ${stderr}`)
      return found
    }
    try {
      return await waitFor(line, { description: 'a log line the predicate accepts', timeoutMs })
    } catch (err) {
      if (err instanceof StopWaiting) throw err
      throw new Error(`${(err as Error).message}; server stderr: ${stderr}`, { cause: err })
    }
  }

  return {
    child,
    lines,
    stderr: () => stderr,
    waitForLine,
    exited,
    async url(timeoutMs?: number) {
      const line = await waitForLine((l) => typeof l.address === 'string', timeoutMs)
      return line.address as string
    },
    kill() {
      if (exitCode === undefined) child.kill('SIGKILL')
    },
  }
}
