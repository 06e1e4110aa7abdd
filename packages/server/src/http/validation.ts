// Request validation. Query strings, params and headers arrive as text, so their values are coerced to the
// schema's types; a JSON body is already typed, so it is validated strictly: "100" is not the integer 100.

import { Ajv, type ValidateFunction } from 'ajv'
import addFormatsModule from 'ajv-formats'
import type { FastifySchemaCompiler } from 'fastify'

// ajv-formats is CommonJS with a default export; under NodeNext the function sits on `.default`.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default

function createAjv(coerce: boolean): Ajv {
  const ajv = new Ajv({
    coerceTypes: coerce ? 'array' : false,
    useDefaults: true,
    removeAdditional: false,
    allErrors: false,
    strict: false,
  })
  addFormats(ajv)
  return ajv
}

const bodyAjv = createAjv(false)
const parameterAjv = createAjv(true)

export const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) =>
  (httpPart === 'body' ? bodyAjv : parameterAjv).compile(schema as object)

/** Compiles a schema for a JSON document validated outside a route, as strictly as a request body. */
export function compileBodyValidator(schema: object): ValidateFunction {
  return bodyAjv.compile(schema)
}
