// A TCP proxy in front of a real server that can hold back the server's answers: a dependency that has
// become slow, for tests of what in-flight requests do meanwhile.
import { connect, createServer, type Server, type Socket } from 'node:net'

export interface StallProxy {
  readonly port: number
  /** From now on, answers from the server are held until release(). */
  stall(): void
  release(): void
  /** Connections lost: every open one is cut, and new ones are closed as soon as they are accepted. */
  cut(): void
  /** After cut(): new connections reach the server again (those cut stay cut). */
  restore(): void
  /** Connections accepted so far (also those cut at once). */
  readonly connections: number
  /** Answers from the server held back by stall(), not yet released. */
  readonly held: number
  close(): Promise<void>
}

/** `port`: listen there (e.g. where a dependency was expected but absent); a free one when left out. */
export async function startStallProxy(target: { host: string; port: number }, port = 0): Promise<StallProxy> {
  let stalled = false
  let down = false
  let connections = 0
  const held: (() => void)[] = []
  const sockets = new Set<Socket>()
  const server: Server = createServer((client) => {
    connections++
    if (down) {
      client.destroy()
      return
    }
    const upstream = connect(target.port, target.host)
    sockets.add(client).add(upstream)
    client.on('data', (chunk) => upstream.write(chunk))
    upstream.on('data', (chunk) => {
      if (stalled) held.push(() => client.write(chunk))
      else client.write(chunk)
    })
    const end = () => {
      client.destroy()
      upstream.destroy()
    }
    client.on('close', end).on('error', end)
    upstream.on('close', end).on('error', end)
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('proxy has no port')
  return {
    port: address.port,
    stall() {
      stalled = true
    },
    release() {
      stalled = false
      for (const write of held.splice(0)) write()
    },
    cut() {
      down = true
      held.length = 0
      for (const socket of sockets) socket.destroy()
    },
    restore() {
      down = false
    },
    get connections() {
      return connections
    },
    get held() {
      return held.length
    },
    async close() {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
