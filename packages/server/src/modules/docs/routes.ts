// The API's own documentation: the OpenAPI document, and a description of each problem type so that every
// `type` URI an error carries resolves to something a developer can read.
import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox'
import { ProblemError, type ProblemType, problemTypes, problemTypeUri } from '../../platform/problems.js'

const docsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/openapi.json',
    {
      config: { probe: true },
      schema: {
        tags: ['docs'],
        summary: 'This OpenAPI document; /docs renders it',
        response: {
          200: {
            description: 'An OpenAPI 3.1 document',
            content: { 'application/json': { schema: Type.Object({}, { additionalProperties: true }) } },
          },
        },
      },
    },
    async () => app.swagger(),
  )

  app.get(
    '/problems/:type',
    {
      schema: {
        tags: ['docs'],
        summary: 'Describes one problem type',
        params: Type.Object({ type: Type.String() }),
        response: {
          200: Type.Object({ type: Type.String(), title: Type.String(), status: Type.Integer() }),
        },
      },
    },
    async (request) => {
      const type = request.params.type
      if (!Object.hasOwn(problemTypes, type)) throw new ProblemError('not-found', `No problem type ${type}`)
      const known = problemTypes[type as ProblemType]
      return { type: problemTypeUri(type as ProblemType), title: known.title, status: known.status }
    },
  )
}

export default docsRoutes
