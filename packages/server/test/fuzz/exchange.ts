// One request over its own TCP connection: whatever bytes a case puts on the wire, the first answer is parsed
// once it is whole, and a connection closed without one, or left open past the deadline, is reported as such
// rather than thrown. The connection is kept alive until then: with Connection: close, a server that answers
// before reading the whole body (a 413, a GET with a body) closes with unread bytes, and the client's kernel
// gets a reset that may discard the answer before it is read.
import { connect } from 'node:net'

export interface Answer {
  readonly kind: 'answer'
  readonly status: number
  /** Header names in lower case. */
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}
export type Outcome = Answer | { readonly kind: 'dropped' | 'hung'; readonly received: string }

/**
 * Sends `bytes` to 127.0.0.1:`port`. The sending side stays open, as browsers and curl leave it: Node's HTTP
 * server drops a connection the client half-closes, whatever it was about to answer.
 */
export function exchange(
  port: number,
  bytes: Buffer,
  options: { timeoutMs: number; head?: boolean },
): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    let settled = false
    const finish = (outcome: Outcome) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      resolve(outcome)
    }
    const timer = setTimeout(() => {
      const parsed = parseAnswer(Buffer.concat(chunks), options.head ?? false, false)
      finish(parsed ?? { kind: 'hung', received: Buffer.concat(chunks).toString('latin1').slice(0, 300) })
    }, options.timeoutMs)
    socket.on('error', () => undefined)
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk)
      // An answer framed by Content-Length is complete before the close: no need to wait for it.
      const parsed = parseAnswer(Buffer.concat(chunks), options.head ?? false, false)
      if (parsed) finish(parsed)
    })
    socket.on('close', () => {
      const received = Buffer.concat(chunks)
      finish(
        parseAnswer(received, options.head ?? false) ?? {
          kind: 'dropped',
          received: received.toString('latin1').slice(0, 300),
        },
      )
    })
    socket.once('connect', () => socket.write(bytes))
  })
}

/** The first response in `data`, once it is whole (`closed`: nothing more will come). */
function parseAnswer(whole: Buffer, head: boolean, closed = true): Answer | undefined {
  // Interim answers (100 Continue to an Expect header) come first, and have no body.
  let data = whole
  while (/^HTTP\/1\.[01] 1\d\d /.test(data.subarray(0, 13).toString('latin1'))) {
    const interim = data.indexOf('\r\n\r\n')
    if (interim < 0) return undefined
    data = data.subarray(interim + 4)
  }
  const end = data.indexOf('\r\n\r\n')
  if (end < 0) return undefined
  const [statusLine, ...lines] = data.subarray(0, end).toString('latin1').split('\r\n')
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const colon = line.indexOf(':')
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  const status = Number(statusLine?.split(' ')[1])
  const rest = data.subarray(end + 4)
  if (head || status === 204 || status === 304) return { kind: 'answer', status, headers, body: '' }
  if (headers['content-length'] !== undefined) {
    const length = Number(headers['content-length'])
    if (rest.length < length) return undefined
    return { kind: 'answer', status, headers, body: rest.subarray(0, length).toString('utf8') }
  }
  if (headers['transfer-encoding'] === 'chunked') {
    const body = unchunk(rest)
    return body === undefined && !closed ? undefined : { kind: 'answer', status, headers, body: body ?? '' }
  }
  return closed ? { kind: 'answer', status, headers, body: rest.toString('utf8') } : undefined
}

/** A chunked body, or undefined until its last chunk has come. */
function unchunk(data: Buffer): string | undefined {
  const parts: Buffer[] = []
  let at = 0
  for (;;) {
    const line = data.indexOf('\r\n', at)
    if (line < 0) return undefined
    const size = Number.parseInt(data.subarray(at, line).toString('latin1'), 16)
    if (size === 0) return Buffer.concat(parts).toString('utf8')
    if (!(size > 0) || data.length < line + 2 + size + 2) return undefined
    parts.push(data.subarray(line + 2, line + 2 + size))
    at = line + 2 + size + 2
  }
}
