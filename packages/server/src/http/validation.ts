// Request validation. Query strings, params and headers arrive as text, so their values are coerced to the
// schema's types; a JSON body is already typed, so it is validated strictly: "100" is not the integer 100.
// Before any schema, the parameter guard refuses path and query text that PostgreSQL cannot store or compare
// (U+0000, unpaired UTF-16 surrogates), percent-encoding that is not UTF-8, and overlong values, on every
// route, with or without a schema, so none of it reaches a hook or a handler that queries the database.

import { NO_CONTROL_CHARACTERS } from '@pos/contracts/admin'
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv'
import addFormatsModule from 'ajv-formats'
import type { FastifyInstance, FastifyRequest, FastifySchemaCompiler } from 'fastify'
import fp from 'fastify-plugin'
import { ProblemError } from '../platform/problems.js'

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

/** What is wrong with one field of a document, for a person: where (a JSON pointer) and why. */
export interface SchemaIssue {
  readonly pointer: string
  readonly message: string
}

const unescapePointer = (segment: string) => segment.replaceAll('~1', '/').replaceAll('~0', '~')

/** A JSON pointer as a person names the field: `/events/0/data/price` is `events[0].data.price`. */
export function fieldName(pointer: string): string {
  let name = ''
  for (const segment of pointer.split('/').slice(1).map(unescapePointer)) {
    name += /^\d+$/.test(segment) ? `[${segment}]` : `${name === '' ? '' : '.'}${segment}`
  }
  return name
}

const TYPE_WORDS: Readonly<Record<string, string>> = {
  integer: 'a whole number',
  number: 'a number',
  string: 'a string',
  boolean: 'true or false',
  object: 'an object',
  array: 'a list',
  null: 'null',
}

const FORMAT_WORDS: Readonly<Record<string, string>> = {
  'date-time': 'a date-time (RFC 3339, e.g. 2026-11-28T10:15:00Z)',
  date: 'a date (YYYY-MM-DD)',
  uuid: 'a UUID',
  uri: 'a URL',
  email: 'an e-mail address',
}

const plural = (count: number, one: string) => `${count} ${one}${count === 1 ? '' : 's'}`

/** One ajv error in words; the field it concerns is said by the pointer beside it. */
function issueMessage(error: ErrorObject): string {
  const params = error.params as Record<string, unknown>
  switch (error.keyword) {
    case 'enum':
      return `must be one of: ${(params.allowedValues as unknown[]).map(String).join(', ')}`
    case 'const':
      return `must be ${JSON.stringify(params.allowedValue)}`
    case 'type':
      return `must be ${String(params.type)
        .split(',')
        .map((type) => TYPE_WORDS[type] ?? type)
        .join(' or ')}`
    case 'format':
      return `must be ${FORMAT_WORDS[String(params.format)] ?? `in the format ${String(params.format)}`}`
    case 'required':
      return 'is required'
    case 'additionalProperties':
      return 'is not a field of this object'
    case 'minLength':
      return params.limit === 1
        ? 'must not be empty'
        : `must be at least ${plural(Number(params.limit), 'character')} long`
    case 'maxLength':
      return `must be at most ${plural(Number(params.limit), 'character')} long`
    case 'minItems':
      return `must hold at least ${plural(Number(params.limit), 'item')}`
    case 'maxItems':
      return `must hold at most ${plural(Number(params.limit), 'item')}`
    case 'minimum':
      return `must be ${String(params.limit)} or more`
    case 'maximum':
      return `must be ${String(params.limit)} or less`
    case 'exclusiveMinimum':
      return `must be more than ${String(params.limit)}`
    case 'exclusiveMaximum':
      return `must be less than ${String(params.limit)}`
    case 'multipleOf':
      return `must be a multiple of ${String(params.multipleOf)}`
    case 'pattern':
      return params.pattern === NO_CONTROL_CHARACTERS
        ? 'must not contain control characters'
        : `must match the pattern ${String(params.pattern)}`
    default:
      return error.message ?? 'is invalid'
  }
}

/**
 * What ajv found wrong, one issue per field, in words: a field a union allows several forms of (`x | null`)
 * gets one message naming each (`must be a string or null`), not one error per branch.
 */
export function schemaIssues(errors: readonly ErrorObject[]): SchemaIssue[] {
  const byPointer = new Map<string, string[]>()
  for (const error of errors) {
    // The union's own error adds nothing to its branches' errors.
    if (error.keyword === 'anyOf' || error.keyword === 'oneOf') continue
    const params = error.params as Record<string, unknown>
    const child = params.missingProperty ?? params.additionalProperty
    const pointer = `${error.instancePath}${typeof child === 'string' ? `/${escapePointer(child)}` : ''}`
    const messages = byPointer.get(pointer) ?? []
    const message = issueMessage(error)
    if (!messages.includes(message)) messages.push(message)
    byPointer.set(pointer, messages)
  }
  return [...byPointer].map(([pointer, messages]) => ({
    pointer: pointer || '/',
    message: messages.length > 1 ? messages.join(', or ') : (messages[0] ?? 'is invalid'),
  }))
}

/** An issue as one line: the field by name, then what is wrong (`events[0].type must be one of: …`). */
export function describeIssue(where: string, issue: SchemaIssue): string {
  const field = fieldName(issue.pointer)
  return field === '' ? `${where} ${issue.message}` : `${field} ${issue.message}`
}

/** The longest name or value of a path or query parameter, in characters; a route's schema may say less. */
export const MAX_PARAMETER_LENGTH = 1024

/**
 * The router's own limit on a path parameter, in raw (still percent-encoded) characters; Fastify's default
 * is 100. Node's HTTP parser refuses a request head over 16 KiB, so over HTTP this limit is never reached and
 * the guard, which names the parameter, answers every long one; were it reached (a larger
 * --max-http-header-size), problems.ts answers it with the same problem type.
 */
export const ROUTER_MAX_PARAM_LENGTH = 16 * 1024

// A high surrogate not followed by a low one, or a low one not preceded by a high one. UTF-8 cannot encode
// either, so a driver would silently store U+FFFD in its place.
const UNPAIRED_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

type Location = 'params' | 'querystring'

interface ParameterIssue {
  readonly location: Location
  readonly pointer: string
  readonly message: string
}

// Any U+0000 or surrogate at all: one scan that nearly every parameter passes, before the exact check.
// biome-ignore lint/suspicious/noControlCharactersInRegex: U+0000 is what it looks for
const SUSPECT_CHARACTER = /[\u0000\uD800-\uDFFF]/

/** Why a parameter's text is refused, or undefined when it may reach the database. */
export function parameterTextIssue(text: string): string | undefined {
  if (text.length > MAX_PARAMETER_LENGTH) return `must not be longer than ${MAX_PARAMETER_LENGTH} characters`
  if (!SUSPECT_CHARACTER.test(text)) return undefined
  if (text.includes('\u0000') || UNPAIRED_SURROGATE.test(text)) {
    return 'must not contain U+0000 or an unpaired UTF-16 surrogate'
  }
  return undefined
}

function escapePointer(name: string): string {
  return name.replaceAll('~', '~0').replaceAll('/', '~1')
}

/** The first refused name or value among a request's path or query parameters. */
function parameterIssue(location: Location, parameters: unknown): ParameterIssue | undefined {
  if (typeof parameters !== 'object' || parameters === null) return undefined
  // for...in with an own-property check visits what Object.entries would, without an array per parameter:
  // this runs for every request.
  const fields = parameters as Record<string, unknown>
  for (const name in fields) {
    if (!Object.hasOwn(fields, name)) continue
    // A refused name is not quoted back: it is the very text that cannot be handled.
    const nameIssue = parameterTextIssue(name)
    if (nameIssue) return { location, pointer: '/', message: `has a parameter name that ${nameIssue}` }
    const issue = valueIssue(fields[name])
    if (issue) return { location, pointer: `/${escapePointer(name)}`, message: issue }
  }
  return undefined
}

/** Why a parameter's value (a string, or the strings of a repeated query parameter) is refused. */
function valueIssue(value: unknown): string | undefined {
  if (typeof value === 'string') return parameterTextIssue(value)
  if (!Array.isArray(value)) return undefined
  for (const item of value) {
    const issue = typeof item === 'string' ? parameterTextIssue(item) : undefined
    if (issue) return issue
  }
  return undefined
}

/** Whether every %XX escape of the raw query string spells UTF-8; the parser keeps a bad one as literal text. */
function queryIsUtf8(url: string): boolean {
  const start = url.indexOf('?')
  if (start === -1 || !url.includes('%', start)) return true
  try {
    decodeURIComponent(url.slice(start + 1))
    return true
  } catch {
    return false
  }
}

const MALFORMED_QUERY: ParameterIssue = {
  location: 'querystring',
  pointer: '/',
  message: 'is not valid percent-encoded UTF-8',
}

function checkParameters(request: FastifyRequest): void {
  const issue = queryIsUtf8(request.url)
    ? (parameterIssue('params', request.params) ?? parameterIssue('querystring', request.query))
    : MALFORMED_QUERY
  if (issue === undefined) return
  const detail = `${issue.location}${issue.pointer === '/' ? '' : issue.pointer} ${issue.message}`
  throw new ProblemError('invalid-parameters', detail, { errors: [issue] })
}

// An onRequest hook registered after auth: it runs once the lifecycle gate, auth and the rate limit have
// answered, and before the body is read, any route's preValidation hook, schema validation and the handler.
// Path and query parameters are known once the route matched, so no preParsing hook (and no stream step on
// every body) is needed.
async function parameterGuard(app: FastifyInstance): Promise<void> {
  app.addHook('onRequest', (request, _reply, done) => {
    try {
      checkParameters(request)
    } catch (error) {
      return done(error as ProblemError)
    }
    done()
  })
}

export default fp(parameterGuard, { name: 'parameter-guard', dependencies: ['problems', 'auth'] })
