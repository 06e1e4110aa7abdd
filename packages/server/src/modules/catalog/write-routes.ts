// Product writes through the API (scope `write`). Each one is recorded as an event of the reserved source
// `api` and goes through the same write path as POS ingest, so the change feed stays complete and the
// projection is updated in the same transaction. An Idempotency-Key is optional here; when sent, it is
// enforced exactly as on ingest (http/idempotency.ts): a replay gets the original status, the product as it is
// now, and `Idempotent-Replayed: true`.
import { randomUUID } from 'node:crypto'
import { type FastifyPluginAsyncTypebox, type Static, Type } from '@fastify/type-provider-typebox'
import {
  newProductExamples,
  productExamples,
  productUpdateExamples,
  productValidationFailedExamples,
} from '@pos/contracts/examples'
import { NewProduct, Product, ProductUpdate, Sku } from '@pos/contracts/product'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { principalOf } from '../../http/auth.js'
import { answerIdempotently } from '../../http/idempotency.js'
import { ProblemError } from '../../platform/problems.js'
import type { ValidEvent } from '../ingest/events.js'

/** The source name under which the service logs changes made through its own API. */
export const API_SOURCE = 'api'

const SkuParams = Type.Object({ sku: Sku })

const write = { scope: 'write', idempotency: 'optional' } as const

const catalogWriteRoutes: FastifyPluginAsyncTypebox = async (app) => {
  /** Records one API change as an event and applies the idempotency verdict to the reply. */
  async function recordChange(
    request: FastifyRequest,
    reply: FastifyReply,
    event: ValidEvent,
  ): Promise<void> {
    const { tenantId } = principalOf(request)
    const result = await app.ingest.record({
      tenantId,
      sourceId: null,
      sourceName: API_SOURCE,
      idempotencyKey: request.idempotency?.key,
      fingerprint: request.idempotency?.fingerprint ?? '',
      events: [event],
    })
    if (result.kind === 'rejected') throw new ProblemError('unstorable-data', result.detail)
    answerIdempotently(reply, result.kind === 'created' ? 'new' : result.kind)
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
    const key = request.idempotency?.key
    return key !== undefined && (await app.ingest.isIdempotencyKeyClaimed(principalOf(request).tenantId, key))
  }

  app.post(
    '/v1/products',
    {
      config: write,
      schema: {
        tags: ['products'],
        summary: 'Creates a product; 409 when the SKU exists',
        body: NewProduct,
        response: { 201: Product },
        examples: {
          body: newProductExamples,
          responses: { 201: productExamples, 422: productValidationFailedExamples },
        },
        problems: ['conflict', 'unstorable-data'],
      },
    },
    async (request, reply) => {
      const { tenantId } = principalOf(request)
      const { sku, ...fields } = request.body
      if (!(await isRetry(request)) && (await app.catalog.findProduct(tenantId, sku)) !== undefined) {
        throw new ProblemError('conflict', `A product with SKU ${sku} exists; use PUT /v1/products/${sku}`)
      }
      await recordChange(request, reply, upserted(sku, fields))
      return reply.code(201).send(await app.catalog.getProduct(tenantId, sku))
    },
  )

  app.put(
    '/v1/products/:sku',
    {
      config: write,
      schema: {
        tags: ['products'],
        summary: 'Creates or replaces the product with this SKU',
        description:
          'The body is the whole product without its SKU, which the path gives: `{name, price, barcode?}`. A field left out is removed (a replace, not a merge); a `sku` in the body is refused with 422.',
        params: SkuParams,
        body: ProductUpdate,
        response: { 200: Product },
        examples: { body: productUpdateExamples, responses: { 200: productExamples } },
        problems: ['unstorable-data'],
      },
    },
    async (request, reply) => {
      const { tenantId } = principalOf(request)
      await recordChange(request, reply, upserted(request.params.sku, request.body))
      return app.catalog.getProduct(tenantId, request.params.sku)
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
        response: { 204: Type.Null() },
        problems: ['unstorable-data'],
      },
    },
    async (request, reply) => {
      const { tenantId } = principalOf(request)
      const { sku } = request.params
      if (!(await isRetry(request))) await app.catalog.getProduct(tenantId, sku)
      await recordChange(request, reply, {
        id: randomUUID(),
        type: 'product.deleted',
        occurredAt: new Date(),
        data: { sku },
      })
      return reply.code(204).send(null)
    },
  )
}

export default catalogWriteRoutes
