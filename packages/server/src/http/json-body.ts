// Request bodies are JSON, and only JSON, sent as it is: another content type, or any content coding but
// `identity` (a gzip, deflate or br body), is 415. The exact bytes are kept beside the parsed value: signatures
// and idempotency fingerprints are over what the client sent, not over a re-serialisation. Parsing guards
// against prototype poisoning like Fastify's own parser.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { ProblemError } from '../platform/problems.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The exact bytes of the JSON body; null when the request had none. */
    rawBody: Buffer | null
  }
}

/** Methods whose body Fastify never reads, so it cannot be decoded wrongly either. */
const BODYLESS_METHODS = new Set(['GET', 'HEAD', 'TRACE'])

/**
 * Whether the request carries a body in a content coding other than `identity`. Nothing here inflates one: a
 * decoder would be a door for decompression bombs, and the body the signature covers is the body as sent.
 */
function hasEncodedBody(request: FastifyRequest): boolean {
  const { headers } = request
  const coding = headers['content-encoding']
  if (coding === undefined || BODYLESS_METHODS.has(request.method)) return false
  // The same test as Fastify's for a request with nothing to parse.
  const length = headers['content-length']
  if (headers['transfer-encoding'] === undefined && (length === undefined || length === '0')) return false
  // A list of codings, in the order they were applied; repeated header lines arrive joined with commas.
  return coding.split(',').some((token) => {
    const name = token.trim().toLowerCase()
    return name !== '' && name !== 'identity'
  })
}

async function jsonBody(app: FastifyInstance): Promise<void> {
  app.decorateRequest('rawBody', null)
  const parseJson = app.getDefaultJsonParser('error', 'ignore')
  app.removeAllContentTypeParsers()
  // Before the body is read: an encoded body is refused unread, however large it would inflate to. A preParsing
  // hook rather than onRequest, so that authentication and the parameter guard answer first, as for a body
  // of the wrong content type.
  app.addHook('preParsing', (request, _reply, payload, done) => {
    if (!hasEncodedBody(request)) return done(null, payload)
    done(
      new ProblemError(
        'unsupported-media-type',
        'Request bodies are accepted without a content coding only: send the JSON uncompressed',
        {},
        // RFC 9110, section 15.5.16: a 415 for a content coding names the codings that would have been accepted.
        { 'accept-encoding': 'identity' },
      ),
    )
  })
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const raw = body as Buffer
    request.rawBody = raw
    parseJson(request, raw.toString('utf8'), done)
  })
}

export default fp(jsonBody, { name: 'json-body' })
