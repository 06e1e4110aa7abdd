// The proxy tests and the chaos suite put between the service and PostgreSQL: held answers, a cut, and the
// way back after a cut, against a local echo server.
import { once } from 'node:events'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type StallProxy, startStallProxy } from './stall-proxy.js'

/** Writes `text` through the proxy and resolves with what comes back, or 'closed' when the connection ends first. */
async function roundTrip(port: number, text: string): Promise<string> {
  const socket: Socket = connect(port, '127.0.0.1')
  try {
    socket.write(text)
    const answer = await Promise.race([
      once(socket, 'data').then(([chunk]) => (chunk as Buffer).toString()),
      once(socket, 'close').then(() => 'closed'),
    ])
    return answer
  } finally {
    socket.destroy()
  }
}

describe('the stall proxy', () => {
  let echo: Server
  let proxy: StallProxy

  beforeEach(async () => {
    echo = createServer((socket) =>
      socket.on('data', (chunk) => socket.write(chunk)).on('error', () => undefined),
    )
    echo.listen(0, '127.0.0.1')
    await once(echo, 'listening')
    const address = echo.address()
    if (address === null || typeof address === 'string') throw new Error('no port')
    proxy = await startStallProxy({ host: '127.0.0.1', port: address.port })
  })
  afterEach(async () => {
    await proxy.close()
    echo.close()
  })

  it('passes bytes both ways, holds the answers while stalled, and lets them through on release', async () => {
    expect(await roundTrip(proxy.port, 'ping')).toBe('ping')
    proxy.stall()
    const held = roundTrip(proxy.port, 'held')
    await expect.poll(() => proxy.held).toBe(1)
    proxy.release()
    expect(await held).toBe('held')
  })

  it('after a cut, closes every new connection until restore(), then passes bytes again', async () => {
    proxy.cut()
    expect(await roundTrip(proxy.port, 'lost')).toBe('closed')
    proxy.restore()
    expect(await roundTrip(proxy.port, 'back')).toBe('back')
    expect(proxy.connections).toBe(2)
  })
})
