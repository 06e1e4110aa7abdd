// A webhook consumer for the benches: a local HTTP server that answers every delivery at once, records when
// each event first arrived and how many arrived again, and checks the signature of a sample of deliveries with
// the standardwebhooks package (the format's reference implementation), as a tenant's consumer would.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Webhook } from 'standardwebhooks'
import { adminPost } from './ingest-client.js'

export interface ConsumerOptions {
  /** The status every delivery is answered with. */
  readonly status: number
  /** Every n-th delivery's signature is verified; 0 verifies none. */
  readonly verifyEvery: number
}

interface DeliveryBody {
  readonly data: { readonly id: string; readonly receivedAt: string }
}

/** An event's first delivery. */
export interface Arrival {
  /** Wall-clock time, ms. */
  readonly at: number
  /** From the event's receivedAt (stamped in the transaction that stored it) to `at`. */
  readonly lagMs: number
}

export class BenchConsumer {
  /** Each event's first delivery, by event id. */
  readonly arrivals = new Map<string, Arrival>()
  /** Deliveries of an event that had arrived before (at least once allows them). */
  duplicates = 0
  received = 0
  verified = 0
  readonly signatureFailures: string[] = []
  readonly unreadable: string[] = []
  #webhook: Webhook | undefined
  readonly #server: Server

  private constructor(
    server: Server,
    private readonly options: ConsumerOptions,
  ) {
    this.#server = server
  }

  static async start(options: ConsumerOptions): Promise<BenchConsumer> {
    const server = createServer()
    const consumer = new BenchConsumer(server, options)
    server.on('request', (request, response) => {
      const chunks: Buffer[] = []
      request.on('data', (chunk: Buffer) => chunks.push(chunk))
      request.on('end', () => {
        consumer.#record(Buffer.concat(chunks).toString('utf8'), request.headers as Record<string, string>)
        response.writeHead(options.status).end()
      })
    })
    // Deliveries arrive on many kept-alive connections at once.
    server.keepAliveTimeout = 60_000
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    return consumer
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/hooks`
  }

  /** The endpoint's signing secret, to verify the sample with; deliveries before it is set are not verified. */
  set secret(secret: string) {
    this.#webhook = new Webhook(secret)
  }

  #record(body: string, headers: Record<string, string>): void {
    const now = Date.now()
    this.received++
    let event: DeliveryBody['data']
    try {
      event = (JSON.parse(body) as DeliveryBody).data
    } catch {
      this.unreadable.push(body.slice(0, 200))
      return
    }
    if (this.arrivals.has(event.id)) this.duplicates++
    else this.arrivals.set(event.id, { at: now, lagMs: now - Date.parse(event.receivedAt) })
    const { verifyEvery } = this.options
    if (this.#webhook === undefined || verifyEvery === 0 || this.received % verifyEvery !== 0) return
    try {
      this.#webhook.verify(body, headers)
      this.verified++
    } catch (err) {
      this.signatureFailures.push(`${headers['webhook-id']}: ${(err as Error).message}`)
    }
  }

  /** How many of `eventIds` never arrived. */
  missing(eventIds: Iterable<string>): number {
    let missing = 0
    for (const id of eventIds) if (!this.arrivals.has(id)) missing++
    return missing
  }

  close(): Promise<void> {
    this.#server.closeAllConnections()
    return new Promise((resolve) => this.#server.close(() => resolve()))
  }
}

/**
 * Subscribes `url` to every event type of the tenant, through the tenant API with a key of scope `webhooks`
 * made for it through the admin API. Answers the endpoint's id and signing secret.
 */
export async function subscribeEndpoint(
  baseUrl: string,
  adminToken: string,
  tenantId: string,
  url: string,
): Promise<{ id: string; secret: string }> {
  const apiKey = await adminPost(baseUrl, adminToken, `/v1/admin/tenants/${tenantId}/api-keys`, {
    name: 'bench-webhooks',
    scopes: ['webhooks'],
  })
  const response = await fetch(new URL('/v1/webhook-endpoints', baseUrl), {
    method: 'POST',
    headers: { authorization: `Bearer ${String(apiKey.key)}`, 'content-type': 'application/json' },
    body: JSON.stringify({ url, description: 'bench consumer' }),
  })
  const text = await response.text()
  if (response.status !== 201)
    throw new Error(`POST /v1/webhook-endpoints answered ${response.status}: ${text}`)
  const { id, secret } = JSON.parse(text) as { id: string; secret: string }
  return { id, secret }
}
