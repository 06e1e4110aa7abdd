// Checks recorded answers (test/helpers/response-record.ts) against the OpenAPI document: each route and
// status must be documented, with the content type sent, and each JSON body must fit the documented schema.
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { DocumentSchemas, type OpenApiDocument, openApiPath } from './openapi-document.js'
import type { RecordedResponse } from './response-record.js'

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json$/

/** What is wrong with one recorded answer, or undefined when the document describes it. */
function problemWith(schemas: DocumentSchemas, record: RecordedResponse): string | undefined {
  // Fastify answers HEAD from the GET route, without a body.
  const method = record.method === 'HEAD' ? 'get' : record.method.toLowerCase()
  const operation = schemas.document.paths[openApiPath(record.route)]?.[method]
  if (operation === undefined) return 'the route is not in the document'
  const response = operation.responses[String(record.status)] ?? operation.responses.default
  if (response === undefined) return `status ${record.status} is not documented`
  const content = response.content
  const body = record.method === 'HEAD' ? undefined : record.body
  if (content === undefined) {
    return body === undefined || body === '' ? undefined : 'a body where the document describes none'
  }
  const mediaType = record.contentType?.split(';')[0]?.trim().toLowerCase()
  if (mediaType === undefined) return body ? 'a body without a content type' : undefined
  const media = content[mediaType]
  if (media === undefined)
    return `content type ${mediaType} is not documented (${Object.keys(content).join(', ')})`
  if (body === undefined || !JSON_TYPE.test(mediaType) || media.schema === undefined) return undefined
  let value: unknown
  try {
    value = JSON.parse(body)
  } catch {
    return `the ${mediaType} body is not JSON`
  }
  const error = schemas.check(media.schema, value)
  return error === undefined ? undefined : `the body does not fit the schema: ${error}`
}

/** Every disagreement between the recorded answers in `dir` and the document, one line each. */
export function checkRecordedResponses(dir: string, root: string): { checked: number; failures: string[] } {
  const files = readdirSync(dir)
  const documentFile = files.find((name) => name.startsWith('openapi-'))
  if (documentFile === undefined) return { checked: 0, failures: [] }
  const schemas = new DocumentSchemas(
    JSON.parse(readFileSync(join(dir, documentFile), 'utf8')) as OpenApiDocument,
  )
  const failures = new Map<string, string>()
  let checked = 0
  for (const name of files.filter((file) => file.startsWith('responses-'))) {
    for (const line of readFileSync(join(dir, name), 'utf8').split('\n')) {
      if (line === '') continue
      const record = JSON.parse(line) as RecordedResponse
      checked++
      const problem = problemWith(schemas, record)
      if (problem === undefined) continue
      const key = `${record.method} ${record.route} ${record.status}: ${problem}`
      if (!failures.has(key)) {
        const where = record.file
          ? ` (${relative(root, record.file)}${record.test ? ` > ${record.test}` : ''})`
          : ''
        failures.set(key, `${key}${where}`)
      }
    }
  }
  return { checked, failures: [...failures.values()] }
}
