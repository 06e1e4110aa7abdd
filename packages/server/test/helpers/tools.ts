// External programs some tests need (promtool, prometheus-pushgateway, from Debian's prometheus packages). A
// test skips with a clear message when one is absent on a developer's machine; CI installs them and sets
// CI_REQUIRE_TOOLS=1, which turns an absent program into a failure instead of a silent skip.
import { execFileSync, spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { waitFor } from './wait.js'

/** The program's path on PATH, or undefined (a thrown error when CI_REQUIRE_TOOLS is set). */
export function findTool(name: string, packageName: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim() || undefined
  } catch {
    if (process.env.CI_REQUIRE_TOOLS)
      throw new Error(`${name} is required (CI_REQUIRE_TOOLS is set): apt-get install ${packageName}`)
    return undefined
  }
}

/** A describe title that says, when the program is absent, why its tests are skipped. */
export function needingTool(
  title: string,
  path: string | undefined,
  name: string,
  packageName: string,
): string {
  return path === undefined
    ? `${title} (skipped: ${name} not on PATH; install Debian's ${packageName})`
    : title
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0))
    })
  })
}

export interface Pushgateway {
  readonly url: string
  /** GET /metrics of the gateway: everything pushed to it, in the text format. */
  metrics(): Promise<string>
  close(): Promise<void>
}

/** Starts a Pushgateway of its own on a free loopback port (in memory, no persistence) and waits until ready. */
export async function startPushgateway(binary: string): Promise<Pushgateway> {
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const child = spawn(binary, [`--web.listen-address=127.0.0.1:${port}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8')
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  try {
    await waitFor(async () => (await fetch(`${url}/-/ready`)).status === 200, {
      description: `the Pushgateway at ${url} to be ready`,
    })
  } catch (err) {
    child.kill('SIGKILL')
    throw new Error(`${(err as Error).message}; pushgateway stderr: ${stderr}`, { cause: err })
  }
  return {
    url,
    async metrics() {
      const response = await fetch(`${url}/metrics`)
      if (response.status !== 200) throw new Error(`GET ${url}/metrics answered ${response.status}`)
      return response.text()
    },
    async close() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      await exited
    },
  }
}
