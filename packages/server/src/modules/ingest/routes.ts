// POST /v1/ingest/:source. The order of checks is the contract: API key (401/403), source of the key's
// tenant (404), signature (401 missing, 403 wrong or expired), Idempotency-Key (400, http/idempotency.ts),
// schema (422); only then is anything looked up by idempotency key or written. An unsigned replay never gets
// a 2xx. A replay is answered 201 with the ids the original stored, and `Idempotent-Replayed: true`.
import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox'
import { IngestAccepted, IngestBody } from '@pos/contracts/events'
import { ingestAcceptedExamples, ingestBatchExamples } from '@pos/contracts/examples'
import { principalOf } from '../../http/auth.js'
import { answerIdempotently } from '../../http/idempotency.js'
import { describeIssue } from '../../http/validation.js'
import { ProblemError } from '../../platform/problems.js'
import type { StoredSource } from '../sources/repository.js'
import { validateEventData } from './events.js'
import { SIGNATURE_HEADER, verifySignature } from './signature.js'

declare module 'fastify' {
  interface FastifyRequest {
    ingestSource: StoredSource | null
  }
}

const ingestRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.decorateRequest('ingestSource', null)

  app.post(
    '/v1/ingest/:source',
    {
      config: { scope: 'ingest', idempotency: 'required' },
      schema: {
        tags: ['ingest'],
        summary: 'Stores a batch of POS events exactly once',
        params: Type.Object({ source: Type.String({ maxLength: 100 }) }),
        headers: Type.Object({
          'x-signature': Type.Optional(Type.String({ description: 't=<unix seconds>,v1=<hex HMAC-SHA256>' })),
        }),
        body: IngestBody,
        response: { 201: IngestAccepted },
        problems: ['signature-required', 'signature-invalid', 'unstorable-data'],
        examples: { body: ingestBatchExamples, responses: { 201: ingestAcceptedExamples } },
      },
      preValidation: async (request) => {
        const { tenantId } = principalOf(request)
        const name = (request.params as { source: string }).source
        const source = await app.sources.findSource(tenantId, name)
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
        request.ingestSource = source
      },
      // An invalid batch (422 from the schema or from an event's data) counts its events as rejected.
      onError: async (request, _reply, error) => {
        const invalid =
          error instanceof ProblemError
            ? error.problemType === 'validation-failed'
            : error.validation !== undefined && error.validationContext === 'body'
        if (invalid && request.ingestSource !== null)
          app.ingest.countRejectedBatch(request.ingestSource.name, request.body)
      },
    },
    async (request, reply) => {
      const { tenantId } = principalOf(request)
      const source = request.ingestSource!
      const claim = request.idempotency!
      const checked = validateEventData(request.body.events)
      if ('issue' in checked) {
        const { pointer, message } = checked.issue
        throw new ProblemError('validation-failed', describeIssue('the body', checked.issue), {
          errors: [{ location: 'body', pointer, message }],
        })
      }
      const result = await app.ingest.record({
        tenantId,
        sourceId: source.id,
        sourceName: source.name,
        idempotencyKey: claim.key,
        fingerprint: claim.fingerprint,
        events: checked.events,
      })
      if (result.kind === 'rejected') throw new ProblemError('unstorable-data', result.detail)
      answerIdempotently(reply, result.kind === 'created' ? 'new' : result.kind)
      if (result.kind === 'key-reused') return
      return reply.code(201).send({
        accepted: result.acceptedIds.length,
        duplicates: result.duplicateIds.length,
        eventIds: result.acceptedIds,
        duplicateEventIds: result.duplicateIds,
        ...(result.acceptedIds.length === 0 && { detail: duplicatesOnly(result.duplicateIds.length) }),
      })
    },
  )
}

/** Said plainly when a batch stored nothing: a 201 alone reads as if it had. */
function duplicatesOnly(count: number): string {
  const events = count === 1 ? 'Its one event was' : `All ${count} events were`
  return `Nothing new was stored. ${events} stored before from this source under the same event id; an event with a new id is stored.`
}

export default ingestRoutes
