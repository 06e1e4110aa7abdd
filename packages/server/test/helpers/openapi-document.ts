// Reads the service's OpenAPI document as a client would, and compiles the schemas it documents (request
// bodies, responses by route, status and media type) so tests can check real messages against them.
import { Ajv, type ValidateFunction } from 'ajv'
import addFormatsModule from 'ajv-formats'

const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default

export interface MediaType {
  schema?: unknown
  example?: unknown
  examples?: Record<string, { summary?: string; value: unknown }>
}
export interface ResponseObject {
  description: string
  headers?: Record<string, { description?: string; schema: unknown }>
  content?: Record<string, MediaType>
}
export interface Operation {
  tags?: string[]
  security?: unknown[]
  parameters?: { in: string; name: string; description?: string }[]
  requestBody?: { content: Record<string, MediaType> }
  responses: Record<string, ResponseObject>
}
export interface OpenApiDocument {
  openapi: string
  paths: Record<string, Record<string, Operation>>
  components: { schemas: Record<string, unknown>; securitySchemes?: Record<string, unknown> }
}

const COMPONENTS = '#/components/schemas/'
const DOCUMENT_ID = 'openapi-components'

/** A copy of a schema with the document's component references pointed at the compiled components. */
function retarget(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(retarget)
  if (node === null || typeof node !== 'object') return node
  const copy: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(node)) {
    copy[key] =
      key === '$ref' && typeof value === 'string' && value.startsWith(COMPONENTS)
        ? `${DOCUMENT_ID}#/$defs/${value.slice(COMPONENTS.length)}`
        : retarget(value)
  }
  return copy
}

/** Compiles the document's schemas with its components, once per schema. */
export class DocumentSchemas {
  readonly #ajv: Ajv
  readonly #compiled = new Map<unknown, ValidateFunction>()

  constructor(readonly document: OpenApiDocument) {
    this.#ajv = new Ajv({ strict: false, allErrors: true })
    addFormats(this.#ajv)
    this.#ajv.addSchema({ $id: DOCUMENT_ID, $defs: retarget(document.components.schemas) as object })
  }

  /** The validator of a schema found in the document. */
  validator(schema: unknown): ValidateFunction {
    let validate = this.#compiled.get(schema)
    if (validate === undefined) {
      validate = this.#ajv.compile(retarget(schema) as object)
      this.#compiled.set(schema, validate)
    }
    return validate
  }

  /** Undefined when `value` fits `schema`, otherwise Ajv's errors in words. */
  check(schema: unknown, value: unknown): string | undefined {
    const validate = this.validator(schema)
    return validate(value) ? undefined : this.#ajv.errorsText(validate.errors)
  }

  /** Every operation, as `METHOD /path` with the path in OpenAPI's `{param}` form. */
  operations(): [string, Operation][] {
    return Object.entries(this.document.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, operation]): [string, Operation] => [
        `${method.toUpperCase()} ${path}`,
        operation,
      ]),
    )
  }
}

/** A Fastify route URL (`/v1/orders/:orderId`) in OpenAPI's form (`/v1/orders/{orderId}`). */
export function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}')
}
