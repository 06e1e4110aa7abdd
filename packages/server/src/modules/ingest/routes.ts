// POST /v1/ingest/:source. The order of checks is the contract: API key (401/403), source of the key's
// tenant (404), signature (401 missing, 403 wrong or expired), Idempotency-Key (400), schema (422); only
// then is anything looked up by idempotency key or written. An unsigned replay never gets a 2xx.
import { createHash } from 'node:crypto'
import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox'
import { IngestAccepted, IngestBody } from '../../contracts/events.js'
import { principalOf } from '../../http/auth.js'
import { ProblemError } from '../../platform/problems.js'
import type { StoredSource } from '../tenants/repository.js'
import { validateEventData } from './events.js'
import { SIGNATURE_HEADER, verifySignature } from './signature.js'

declare module 'fastify' {
  interface FastifyRequest {
    rawBody: Buffer | null
    ingestSource: StoredSource | null
  }
}

const IDEMPOTENCY_KEY = /^[\x20-\x7e]{1,255}$/

export function idempotencyKeyOf(header: unknown): string {
  if (typeof header !== 'string' || !IDEMPOTENCY_KEY.test(header)) {
    throw new ProblemError(
      'idempotency-key-required',
      header === undefined
        ? 'Send an Idempotency-Key header: the same key on a retry makes it safe'
        : 'The Idempotency-Key must be 1 to 255 printable ASCII characters',
    )
  }
  return header
}

export function fingerprintOf(sourceName: string, rawBody: Buffer): string {
  return createHash('sha256').update(sourceName).update('\n').update(rawBody).digest('hex')
}

const ingestRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.decorateRequest('rawBody', null)
  app.decorateRequest('ingestSource', null)
  // The signature and the idempotency fingerprint are over the exact bytes sent, so keep them.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const raw = body as Buffer
    request.rawBody = raw
    try {
      done(null, JSON.parse(raw.toString('utf8')))
    } catch {
      done(new ProblemError('malformed-json'), undefined)
    }
  })

  app.post(
    '/v1/ingest/:source',
    {
      config: { scope: 'ingest' },
      schema: {
        tags: ['ingest'],
        summary: 'Stores a batch of POS events exactly once',
        params: Type.Object({ source: Type.String({ maxLength: 100 }) }),
        headers: Type.Object({
          'idempotency-key': Type.Optional(
            Type.String({ description: '1 to 255 printable ASCII characters' }),
          ),
          'x-signature': Type.Optional(Type.String({ description: 't=<unix seconds>,v1=<hex HMAC-SHA256>' })),
        }),
        body: IngestBody,
        response: { 201: IngestAccepted, 204: Type.Null() },
        problems: ['signature-required', 'signature-invalid', 'unstorable-data'],
      },
      preValidation: async (request) => {
        const { tenantId } = principalOf(request)
        const name = (request.params as { source: string }).source
        const source = await app.tenants.findSource(tenantId, name)
        if (source === undefined) throw new ProblemError('not-found', `No source named ${name}`)
        if (source.signingSecrets.length > 0) {
          const header = request.headers[SIGNATURE_HEADER]
          const verdict = verifySignature(
            typeof header === 'string' ? header : undefined,
            source.signingSecrets,
            request.rawBody ?? Buffer.alloc(0),
          )
          if (verdict === 'missing') throw new ProblemError('signature-required', `Send ${SIGNATURE_HEADER}`)
          if (verdict !== 'valid') {
            throw new ProblemError(
              'signature-invalid',
              verdict === 'expired' ? 'The signature timestamp is outside the 300 s tolerance' : undefined,
            )
          }
        }
        idempotencyKeyOf(request.headers['idempotency-key'])
        request.ingestSource = source
      },
    },
    async (request, reply) => {
      const { tenantId } = principalOf(request)
      const source = request.ingestSource!
      const checked = validateEventData(request.body.events)
      if ('issue' in checked) {
        const { pointer, message } = checked.issue
        throw new ProblemError('validation-failed', `body${pointer} ${message}`, {
          errors: [{ location: 'body', pointer, message }],
        })
      }
      const result = await app.ingest.record({
        tenantId,
        sourceId: source.id,
        sourceName: source.name,
        idempotencyKey: idempotencyKeyOf(request.headers['idempotency-key']),
        fingerprint: fingerprintOf(source.name, request.rawBody!),
        events: checked.events,
      })
      switch (result.kind) {
        case 'created':
          return reply.code(201).send({
            accepted: result.acceptedIds.length,
            duplicates: result.duplicateIds.length,
            eventIds: result.acceptedIds,
            duplicateEventIds: result.duplicateIds,
          })
        case 'replayed':
          return reply.code(204).header('idempotent-replayed', 'true').send(null)
        case 'key-reused':
          throw new ProblemError(
            'idempotency-key-reused',
            'This Idempotency-Key came with a different body before',
          )
        case 'rejected':
          throw new ProblemError('unstorable-data', result.detail)
      }
    },
  )
}

export default ingestRoutes
