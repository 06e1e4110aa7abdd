// Product writes through the API (scope `write`). Each one is recorded as an event of the reserved source
// `api` and goes through the same write path as POS ingest, so the change feed stays complete and the
// projection is updated in the same transaction. An Idempotency-Key is optional here; when sent, it is
// enforced exactly as on ingest.
import { createHash, randomUUID } from 'node:crypto'
import { type FastifyPluginAsyncTypebox, type Static, Type } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { NewProduct, Product, ProductUpdate, Sku } from '../../contracts/product.js'
import { principalOf } from '../../http/auth.js'
import { ProblemError } from '../../platform/problems.js'
import type { ValidEvent } from '../ingest/events.js'
import { idempotencyKeyOf } from '../ingest/routes.js'
import type { IngestResult } from '../ingest/service.js'
import { CatalogRepository } from './repository.js'

/** The source name under which the service logs changes made through its own API. */
export const API_SOURCE = 'api'

const SkuParams = Type.Object({ sku: Sku })
const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({ description: 'Optional; 1 to 255 printable ASCII characters' }),
  ),
})

const write = { scope: 'write' } as const

function optionalIdempotencyKey(request: FastifyRequest): string | undefined {
  const header = request.headers['idempotency-key']
  return header === undefined ? undefined : idempotencyKeyOf(header)
}

const catalogWriteRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const repository = new CatalogRepository(app.platform.database.db)

  /** Records one API change as an event; throws the problem for a misused key or unstorable data. */
  async function recordChange(request: FastifyRequest, event: ValidEvent): Promise<IngestResult> {
    const { tenantId } = principalOf(request)
    const fingerprint = createHash('sha256')
      .update(`${API_SOURCE}\n${request.method} ${request.url}\n`)
      .update(JSON.stringify(request.body ?? null))
      .digest('hex')
    const result = await app.ingest.record({
      tenantId,
      sourceId: null,
      sourceName: API_SOURCE,
      idempotencyKey: optionalIdempotencyKey(request),
      fingerprint,
      events: [event],
    })
    if (result.kind === 'key-reused') {
      throw new ProblemError(
        'idempotency-key-reused',
        'This Idempotency-Key came with a different request before',
      )
    }
    if (result.kind === 'rejected') throw new ProblemError('unstorable-data', result.detail)
    return result
  }

  const upserted = (sku: string, body: Static<typeof ProductUpdate>): ValidEvent => ({
    id: randomUUID(),
    type: 'product.upserted',
    occurredAt: new Date(),
    data: {
      sku,
      name: body.name,
      price: body.price,
      ...(body.barcode === undefined ? {} : { barcode: body.barcode }),
    },
  })

  /** A retry of a request already stored skips the precondition: it is answered as a replay. */
  async function isRetry(request: FastifyRequest): Promise<boolean> {
    const key = optionalIdempotencyKey(request)
    return key !== undefined && (await app.ingest.isIdempotencyKeyClaimed(principalOf(request).tenantId, key))
  }

  async function current(tenantId: string, sku: string) {
    const product = await repository.findProduct(tenantId, sku)
    if (product === undefined) throw new ProblemError('not-found', `No product with SKU ${sku}`)
    return product
  }

  app.post(
    '/v1/products',
    {
      config: write,
      schema: {
        tags: ['products'],
        summary: 'Creates a product; 409 when the SKU exists',
        headers: IdempotencyHeaders,
        body: NewProduct,
        response: { 200: Product, 201: Product },
        problems: ['conflict', 'unstorable-data'],
      },
    },
    async (request, reply) => {
      const { tenantId } = principalOf(request)
      const { sku, ...fields } = request.body
      if (!(await isRetry(request)) && (await repository.findProduct(tenantId, sku)) !== undefined) {
        throw new ProblemError('conflict', `A product with SKU ${sku} exists; use PUT /v1/products/${sku}`)
      }
      const result = await recordChange(request, upserted(sku, fields))
      if (result.kind === 'replayed') reply.header('idempotent-replayed', 'true')
      return reply.code(result.kind === 'replayed' ? 200 : 201).send(await current(tenantId, sku))
    },
  )

  app.put(
    '/v1/products/:sku',
    {
      config: write,
      schema: {
        tags: ['products'],
        summary: 'Creates or replaces the product with this SKU',
        params: SkuParams,
        headers: IdempotencyHeaders,
        body: ProductUpdate,
        response: { 200: Product },
        problems: ['unstorable-data'],
      },
    },
    async (request, reply) => {
      const { tenantId } = principalOf(request)
      const result = await recordChange(request, upserted(request.params.sku, request.body))
      if (result.kind === 'replayed') reply.header('idempotent-replayed', 'true')
      return current(tenantId, request.params.sku)
    },
  )

  app.delete(
    '/v1/products/:sku',
    {
      config: write,
      schema: {
        tags: ['products'],
        summary: 'Deletes the product with this SKU; 404 when there is none',
        params: SkuParams,
        headers: IdempotencyHeaders,
        response: { 204: Type.Null() },
        problems: ['unstorable-data'],
      },
    },
    async (request, reply) => {
      const { tenantId } = principalOf(request)
      const { sku } = request.params
      if (!(await isRetry(request))) await current(tenantId, sku)
      const result = await recordChange(request, {
        id: randomUUID(),
        type: 'product.deleted',
        occurredAt: new Date(),
        data: { sku },
      })
      if (result.kind === 'replayed') reply.header('idempotent-replayed', 'true')
      return reply.code(204).send(null)
    },
  )
}

export default catalogWriteRoutes
