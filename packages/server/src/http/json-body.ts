// Request bodies are JSON, and only JSON (anything else is 415). The exact bytes are kept beside the parsed
// value: signatures and idempotency fingerprints are over what the client sent, not over a re-serialisation.
// Parsing guards against prototype poisoning like Fastify's own parser.
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'

declare module 'fastify' {
  interface FastifyRequest {
    /** The exact bytes of the JSON body; null when the request had none. */
    rawBody: Buffer | null
  }
}

async function jsonBody(app: FastifyInstance): Promise<void> {
  app.decorateRequest('rawBody', null)
  const parseJson = app.getDefaultJsonParser('error', 'ignore')
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const raw = body as Buffer
    request.rawBody = raw
    parseJson(request, raw.toString('utf8'), done)
  })
}

export default fp(jsonBody, { name: 'json-body' })
