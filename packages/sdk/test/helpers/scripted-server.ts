// A tiny local HTTP server whose answers a test scripts, one per request, recording when each request came:
// for the answers a real server gives rarely or only under load (429, 503, 5xx, a dropped connection, no
// answer at all) and for the remote configuration. Waits are asserted from these timestamps, never slept.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface SeenRequest {
  readonly at: number
  readonly method: string
  readonly path: string
  readonly headers: IncomingMessage['headers']
  readonly body: string
}

export type Answer =
  | {
      readonly status: number
      readonly headers?: Record<string, string>
      readonly body?: unknown
      /** Answer only after this long. */
      readonly delayMs?: number
    }
  | 'drop'
  | 'hang'

export interface ScriptedServer {
  readonly url: string
  readonly requests: SeenRequest[]
  /** The most requests the server held at once. */
  readonly mostAtOnce: () => number
  /** Ingest requests only. */
  ingests(): SeenRequest[]
  close(): Promise<void>
}

/** `answer` decides each request's answer; GET /v1/config is 404 unless it handles it. */
export async function startScriptedServer(
  answer: (request: SeenRequest, index: number) => Answer,
): Promise<ScriptedServer> {
  const requests: SeenRequest[] = []
  const hanging: ServerResponse[] = []
  let open = 0
  let most = 0
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const seen: SeenRequest = {
        at: performance.timeOrigin + performance.now(),
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      }
      requests.push(seen)
      open++
      most = Math.max(most, open)
      res.on('close', () => open--)
      const reply = answer(seen, requests.length - 1)
      if (reply === 'drop') return req.socket.destroy()
      if (reply === 'hang') return void hanging.push(res)
      const json = reply.body === undefined ? '' : JSON.stringify(reply.body)
      const send = () => {
        const type = reply.status >= 400 ? 'application/problem+json' : 'application/json'
        res.writeHead(reply.status, { ...(json === '' ? {} : { 'content-type': type }), ...reply.headers })
        res.end(json)
      }
      if (reply.delayMs === undefined) send()
      else setTimeout(send, reply.delayMs)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    mostAtOnce: () => most,
    ingests: () => requests.filter((r) => r.method === 'POST'),
    async close() {
      for (const res of hanging) res.destroy()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

export const stored = (count: number): Answer => ({
  status: 201,
  body: { accepted: count, duplicates: 0, eventIds: [], duplicateEventIds: [] },
})

export const notFound: Answer = {
  status: 404,
  body: { type: '/problems/not-found', title: 'No such resource', status: 404 },
}
