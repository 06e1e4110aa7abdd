// A plain-HTTP server on loopback standing in for an outbound target (a webhook endpoint, a provider): it counts
// the requests it receives, notes when each arrived, and answers the way the test tells it to.
import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import pino, { type Logger } from 'pino'
import type { OutboundSettings } from '../../../src/config.js'
import { loadConfig } from '../../../src/config.js'
import type { Target } from '../../../src/platform/outbound/outbound.js'

export type Handler = (req: IncomingMessage, res: ServerResponse) => void

export interface Arrival {
  readonly method: string
  readonly path: string
  readonly at: number
}

export interface TargetServer {
  readonly url: string
  readonly arrivals: Arrival[]
  /** Answers every following request with this handler. */
  answer(handler: Handler): void
  /** Requests the `hold` handler is keeping open; call one to answer it 200. */
  readonly held: (() => void)[]
  close(): Promise<void>
}

/** Answers `status` with optional headers and body. */
export const reply =
  (status: number, headers: Record<string, string> = {}, body = ''): Handler =>
  (_req, res) => {
    res.writeHead(status, headers)
    res.end(body)
  }

/** Never answers (until the server closes). */
export const hang: Handler = () => undefined

export async function startTargetServer(): Promise<TargetServer> {
  const arrivals: Arrival[] = []
  const held: (() => void)[] = []
  let handler: Handler = reply(200, { 'content-type': 'text/plain' }, 'ok')
  const server = createServer((req, res) => {
    arrivals.push({ method: req.method ?? '', path: req.url ?? '', at: performance.now() })
    req.resume()
    handler(req, res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    arrivals,
    held,
    answer(next) {
      handler = next
    },
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** Keeps each request open until the test releases it from `server.held`. */
export function hold(server: TargetServer): Handler {
  return (_req, res) => {
    server.held.push(() => {
      res.writeHead(200)
      res.end('probe ok')
    })
  }
}

/** The documented defaults, with waits short enough for tests. */
export function testSettings(overrides: Partial<OutboundSettings> = {}): OutboundSettings {
  return {
    ...loadConfig({}).outbound,
    timeoutMs: 2000,
    retryBaseDelayMs: 1,
    retryMaxDelayMs: 20,
    // A loaded test machine may take a while to answer; the fallback test stops Redis instead.
    redisTimeoutMs: 2000,
    ...overrides,
  }
}

export const uniquePrefix = (): string => `test:${randomUUID()}:`
export const uniqueTarget = (kind: Target['kind'] = 'webhook'): Target => ({ kind, id: randomUUID() })
export const silentLog: Logger = pino({ level: 'silent' })
