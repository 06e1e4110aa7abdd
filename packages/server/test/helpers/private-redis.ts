// A private redis-server for tests that stop Redis under the service, and a free loopback port: for it, or as
// the port of a dependency that is not there (yet).
import { type ChildProcess, spawn } from 'node:child_process'
import { createServer } from 'node:net'

/** A loopback port nothing listens on (the moment it is returned). */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

/** A private redis-server the test may stop and start again; it keeps nothing on disk. */
export function startRedis(port: number): ChildProcess {
  return spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  )
}
