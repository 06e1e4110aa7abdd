// A webhook consumer for the tests: a local HTTP server that records every delivery it receives and answers
// as the test says (by default 204). `verify` checks a delivery with the standardwebhooks package, the way a
// tenant's consumer would.
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Webhook } from 'standardwebhooks'
import { afterAll, beforeAll } from 'vitest'
import { startTestApp, type TestApp } from '../../helpers/app.js'

export interface ReceivedDelivery {
  readonly headers: IncomingHttpHeaders
  readonly body: string
  /** When the request arrived (epoch ms, comparable with the servers' log times). */
  readonly receivedAt: number
}

export interface ConsumerAnswer {
  readonly status: number
  readonly headers?: Record<string, string>
}

export class Consumer {
  readonly received: ReceivedDelivery[] = []
  /** Decides each answer ('hold': not now, see `respond`); the delivery is already in `received`. */
  answer: (delivery: ReceivedDelivery, index: number) => ConsumerAnswer | 'hold' = () => ({ status: 204 })
  /** The status each delivery was answered with, in the order of `received` (undefined while held). */
  readonly answered: (number | undefined)[] = []
  /**
   * Whether each answer was handed to the connection in full: false when the sender had gone before it
   * could be (the connection closed while the delivery was held), undefined while held.
   */
  readonly sent: (boolean | undefined)[] = []
  readonly #held = new Map<number, ServerResponse>()
  readonly #server: Server

  private constructor(server: Server) {
    this.#server = server
  }

  static async start(): Promise<Consumer> {
    const server = createServer()
    const consumer = new Consumer(server)
    server.on('request', (request, response) => {
      const chunks: Buffer[] = []
      request.on('data', (chunk: Buffer) => chunks.push(chunk))
      request.on('end', () => {
        const delivery = {
          headers: request.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          receivedAt: Date.now(),
        }
        const index = consumer.received.push(delivery) - 1
        consumer.answered.push(undefined)
        consumer.sent.push(undefined)
        response.on('close', () => {
          consumer.sent[index] = response.writableFinished
          consumer.#held.delete(index)
        })
        const answer = consumer.answer(delivery, index)
        if (answer === 'hold') consumer.#held.set(index, response)
        else consumer.#write(index, response, answer)
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    return consumer
  }

  /** Answers a held delivery; false when its connection is already gone. */
  respond(index: number, answer: ConsumerAnswer): boolean {
    const response = this.#held.get(index)
    if (response === undefined || response.destroyed) return false
    this.#held.delete(index)
    this.#write(index, response, answer)
    return true
  }

  /** Indexes of the deliveries held and still open. */
  held(): number[] {
    return [...this.#held.keys()]
  }

  #write(index: number, response: ServerResponse, answer: ConsumerAnswer): void {
    this.answered[index] = answer.status
    response.writeHead(answer.status, answer.headers).end()
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/hooks`
  }

  /** The deliveries' events, parsed. */
  events(): { type: string; timestamp: string; data: { id: string; type: string } }[] {
    return this.received.map((delivery) => JSON.parse(delivery.body))
  }

  close(): Promise<void> {
    this.#server.closeAllConnections()
    return new Promise((resolve) => this.#server.close(() => resolve()))
  }
}

/** Verifies a delivery as a consumer would; throws when the signature or timestamp is wrong. */
export function verify(secret: string, delivery: ReceivedDelivery): unknown {
  return new Webhook(secret).verify(delivery.body, delivery.headers as Record<string, string>)
}

/** For one describe block: a test app started with `env`, and a consumer; both closed after the block. */
export function appWithConsumer(env: Record<string, string>): {
  readonly t: TestApp
  readonly consumer: Consumer
} {
  const started = {} as { t: TestApp; consumer: Consumer }
  beforeAll(async () => {
    started.t = await startTestApp({ env })
    started.consumer = await Consumer.start()
  })
  afterAll(async () => {
    await started.consumer.close()
    await started.t.close()
  })
  return started
}
