// HTTP/1.1 spoken by hand over a TCP socket, for tests of what the server does when a client leaves halfway,
// resets its connection, or keeps a connection open across a shutdown: things fetch cannot be made to do.
import { connect, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'

export interface RawResponse {
  readonly status: number
  /** Header names in lower case. */
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

/** A connection to the server, with what it has received so far. */
export interface RawConnection {
  readonly socket: Socket
  write(text: string): void
  /** The next complete response (Content-Length framed), in the order they came. */
  response(timeoutMs?: number): Promise<RawResponse>
  /** Resolves once the connection is closed, by either side. */
  readonly closed: Promise<void>
}

/** `allowHalfOpen`: the connection stays open for sending after the server closed its side, until destroyed. */
export async function openConnection(
  url: string,
  options: { allowHalfOpen?: boolean } = {},
): Promise<RawConnection> {
  const { hostname, port } = new URL(url)
  const socket = connect({
    port: Number(port),
    host: hostname,
    allowHalfOpen: options.allowHalfOpen ?? false,
  })
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
  socket.on('error', () => undefined)
  let received = ''
  socket.on('data', (chunk: Buffer) => {
    received += chunk.toString('latin1')
  })
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  let isClosed = false
  void closed.then(() => {
    isClosed = true
  })

  function takeResponse(): RawResponse | undefined {
    const end = received.indexOf('\r\n\r\n')
    if (end < 0) return undefined
    const [statusLine, ...lines] = received.slice(0, end).split('\r\n')
    const headers: Record<string, string> = {}
    for (const line of lines) {
      const colon = line.indexOf(':')
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
    }
    const length = Number(headers['content-length'] ?? 0)
    if (received.length < end + 4 + length) return undefined
    const body = received.slice(end + 4, end + 4 + length)
    received = received.slice(end + 4 + length)
    return { status: Number(statusLine?.split(' ')[1]), headers, body }
  }

  return {
    socket,
    closed,
    write: (text) => socket.write(text),
    async response(timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const response = takeResponse()
        if (response) return response
        if (isClosed) throw new Error(`connection closed before a whole response came: ${received}`)
        if (Date.now() > deadline) throw new Error(`no whole response within ${timeoutMs} ms: ${received}`)
        await sleep(5)
      }
    },
  }
}
