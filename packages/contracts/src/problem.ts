// The problem document (RFC 9457) every error of the API is answered with, as application/problem+json.
import { Type } from 'typebox'

export const PROBLEM_CONTENT_TYPE = 'application/problem+json'

/** One field a request got wrong: where it is and what is wrong with it. */
export const ProblemIssue = Type.Object({
  location: Type.String({ description: 'body, querystring, params or headers' }),
  pointer: Type.String({ description: 'JSON pointer to the field within that location' }),
  message: Type.String(),
})

export const Problem = Type.Object(
  {
    type: Type.String({
      description: 'A relative URI such as /problems/not-found; stable, it names the error',
    }),
    title: Type.String({ description: 'The same for every problem of this type' }),
    status: Type.Integer({ description: 'The HTTP status' }),
    detail: Type.Optional(Type.String({ description: 'What went wrong with this request' })),
    instance: Type.Optional(Type.String({ description: 'The path of the request' })),
    errors: Type.Optional(
      Type.Array(ProblemIssue, { description: 'validation-failed, invalid-parameters: each field in error' }),
    ),
  },
  // Some types carry more members (a readiness 503 names the failed checks); clients ignore what they don't know.
  { additionalProperties: true, title: 'Problem' },
)
