// The fuzz test's inputs: a small seeded PRNG, values generated from the OpenAPI document's schemas or taken
// from its examples and then mutated, JSON written by hand (so it can hold what JSON.stringify cannot: 1e309,
// duplicate keys, lone surrogates, 10k levels of nesting) and whole requests as the bytes a client would put
// on the wire, malformed ones included. Everything follows from the seed, so a failing case can be replayed.
import { gzipSync } from 'node:zlib'

/** mulberry32: tiny, fast and good enough to pick inputs; the same seed gives the same cases. */
export class Random {
  #state: number
  constructor(seed: number) {
    this.#state = seed >>> 0
  }
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0
    let t = this.#state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  int(below: number): number {
    return Math.floor(this.next() * below)
  }
  chance(probability: number): boolean {
    return this.next() < probability
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!
  }
}

/** JSON text inserted verbatim where a value goes: numbers and strings JSON.stringify would change or refuse. */
export class RawJson {
  constructor(readonly text: string) {}
}
/** An object written with its keys in order, repeats allowed. */
export class Pairs {
  constructor(readonly pairs: [string, unknown][]) {}
}

/** JSON text of a value that may hold RawJson and Pairs. */
export function toJson(value: unknown): string {
  if (value instanceof RawJson) return value.text
  if (value instanceof Pairs)
    return `{${value.pairs.map(([k, v]) => `${JSON.stringify(k)}:${toJson(v)}`).join(',')}}`
  if (Array.isArray(value)) return `[${value.map(toJson).join(',')}]`
  if (value !== null && typeof value === 'object') {
    return `{${Object.entries(value)
      .map(([k, v]) => `${JSON.stringify(k)}:${toJson(v)}`)
      .join(',')}}`
  }
  return JSON.stringify(value) ?? 'null'
}

const LONG = 'x'.repeat(1024 * 1024 + 7)
const NUMBERS = [
  '1e309',
  '-1e309',
  '-0',
  '9007199254740993',
  '1e-400',
  '123456789012345678901234567890',
  '0.1e99999',
  '-2147483649',
  '2147483648',
  '1.5',
  '0',
]
const STRINGS = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\ud800',
  '\udfff x',
  '\u202e\u200b',
  '../../etc/passwd',
  '%00',
  "'; drop table events; --",
  '9999-12-31T23:59:59.999Z',
  '+275760-09-13T00:00:00.001Z',
  '-000001-01-01T00:00:00Z',
  '2026-02-30T00:00:00Z',
  'NaN',
  'Infinity',
  '💥'.repeat(200),
  'y'.repeat(70_000),
]

/** A value of some type the schema probably did not ask for. */
export function nastyValue(random: Random): unknown {
  switch (random.int(10)) {
    case 0:
      return new RawJson(random.pick(NUMBERS))
    case 1:
      return random.pick(STRINGS)
    case 2:
      return random.pick([null, true, false, 0, -1, 2 ** 31, Number.MAX_SAFE_INTEGER, 0.000001])
    case 3:
      return random.pick([{}, [], [null], { '': null }, JSON.parse('{"__proto__":{"admin":true}}')])
    case 4:
      return new RawJson('{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}')
    case 5:
      return random.chance(0.2) ? LONG : 'z'.repeat(random.int(5000))
    case 6:
      return new RawJson(
        `"${random.pick(['\\ud800', '\\udc00\\ud800', '\\u0000', '\\uDBFF\\uDFFF', '\\u00ff'])}"`,
      )
    case 7:
      return Array.from({ length: random.int(2000) }, (_, i) => i)
    case 8:
      return deepArray(random.pick([100, 1000, 10_000]))
    default:
      return new RawJson(random.pick(['1E+2', '1e1000000000', '-9223372036854775809', '0x10', '01']))
  }
}

function deepArray(levels: number): RawJson {
  return new RawJson(`${'['.repeat(levels)}1${']'.repeat(levels)}`)
}
function deepObject(levels: number): RawJson {
  return new RawJson(`${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`)
}

type Schema = Record<string, unknown>
const COMPONENTS = '#/components/schemas/'

/** A value shaped by a schema of the document: often valid, never trying hard (patterns are not solved). */
export function fromSchema(
  schema: unknown,
  components: Record<string, unknown>,
  random: Random,
  depth = 0,
): unknown {
  if (schema === null || typeof schema !== 'object' || depth > 8) return random.pick([1, 'x', null])
  const s = schema as Schema
  if (typeof s.$ref === 'string')
    return fromSchema(components[s.$ref.slice(COMPONENTS.length)], components, random, depth + 1)
  if (s.examples && Array.isArray(s.examples) && random.chance(0.5)) return random.pick(s.examples)
  if ('const' in s) return s.const
  if (Array.isArray(s.enum)) return random.pick(s.enum)
  const choices = (s.anyOf ?? s.oneOf) as unknown[] | undefined
  if (choices) return fromSchema(random.pick(choices), components, random, depth + 1)
  if (Array.isArray(s.allOf)) return fromSchema(s.allOf[0], components, random, depth + 1)
  const type = Array.isArray(s.type) ? random.pick(s.type as string[]) : s.type
  switch (type) {
    case 'object': {
      const properties = (s.properties ?? {}) as Record<string, unknown>
      const required = new Set((s.required ?? []) as string[])
      const out: Record<string, unknown> = {}
      for (const [key, property] of Object.entries(properties)) {
        if (required.has(key) || random.chance(0.5))
          out[key] = fromSchema(property, components, random, depth + 1)
      }
      return out
    }
    case 'array': {
      const min = typeof s.minItems === 'number' ? s.minItems : 0
      const length = min + random.int(3)
      return Array.from({ length }, () => fromSchema(s.items, components, random, depth + 1))
    }
    case 'integer':
      return (typeof s.minimum === 'number' ? s.minimum : 0) + random.int(5)
    case 'number':
      return (typeof s.minimum === 'number' ? s.minimum : 0) + random.int(500) / 10
    case 'boolean':
      return random.chance(0.5)
    case 'string':
      if (s.format === 'date-time') return new Date(Date.UTC(2026, 10, 1) + random.int(1e9)).toISOString()
      if (s.format === 'uuid') return crypto.randomUUID()
      if (s.format === 'uri') return 'https://example.com/hooks/fuzz'
      return `fuzz-${random.int(1000)}`.padEnd(typeof s.minLength === 'number' ? s.minLength : 0, 'a')
    default:
      return random.pick([{}, 'x', 1])
  }
}

/** A copy of `value` with one node somewhere inside replaced, removed, duplicated or added to. */
export function mutate(value: unknown, random: Random): unknown {
  if (random.chance(0.25) || value === null || typeof value !== 'object' || value instanceof RawJson) {
    return nastyValue(random)
  }
  if (Array.isArray(value)) {
    if (value.length === 0 || random.chance(0.2)) return [...value, nastyValue(random)]
    const index = random.int(value.length)
    return value.map((item, i) => (i === index ? mutate(item, random) : item))
  }
  const entries = Object.entries(value as Record<string, unknown>)
  switch (entries.length === 0 ? 0 : random.int(5)) {
    case 0:
      return {
        ...value,
        [random.pick(['extra', '', '__proto__', 'constructor', 'id', 'tenantId'])]: nastyValue(random),
      }
    case 1: {
      const drop = random.int(entries.length)
      return Object.fromEntries(entries.filter((_, i) => i !== drop))
    }
    case 2: {
      // The same key twice: first a valid value, then another (or the other way round).
      const [key, original] = random.pick(entries)
      const pairs: [string, unknown][] = [...entries, [key, nastyValue(random)]]
      return new Pairs(
        random.chance(0.5)
          ? pairs
          : [[key, nastyValue(random)], ...entries.filter(([k]) => k !== key), [key, original]],
      )
    }
    default: {
      const index = random.int(entries.length)
      return Object.fromEntries(entries.map(([k, v], i) => [k, i === index ? mutate(v, random) : v]))
    }
  }
}

/** Whole bodies that are not a mutation of a valid one. */
export function oddBody(random: Random, bodyLimit: number): Buffer {
  switch (random.int(12)) {
    case 0:
      return Buffer.from(deepArray(10_000).text)
    case 1:
      return Buffer.from(deepObject(10_000).text)
    case 2:
      // Just under and just over the body limit.
      return Buffer.from(`{"events":"${'a'.repeat(bodyLimit - 14 + random.pick([-1, 0, 1, 64]))}"}`)
    case 3:
      return Buffer.from([
        0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0xc3, 0x28, 0xc0, 0xaf, 0xed, 0xa0, 0x80, 0x22, 0x7d,
      ])
    case 4:
      return Buffer.from('{"a":1}\u0000{"b":2}')
    case 5:
      return Buffer.from(
        random.pick(['', ' ', 'null', '[]', '""', '1e309', 'true', '{', '{"a":', '\ufeff{}', '{}garbage']),
      )
    case 6:
      return gzipBomb()
    case 7:
      return Buffer.from(`{"events":[${Array.from({ length: 5000 }, () => '{}').join(',')}]}`)
    case 8:
      return Buffer.from(`{${Array.from({ length: 20_000 }, (_, i) => `"k${i % 7}":${i}`).join(',')}}`)
    case 9:
      return Buffer.from('name=x&kind=sdk')
    case 10:
      return Buffer.from(`{"s":"${'\\ud800'.repeat(1000)}"}`)
    default:
      return Buffer.from([0xef, 0xbb, 0xbf, 0x7b, 0x7d])
  }
}

let bomb: Buffer | undefined
/** 64 MiB of zeros, gzipped to about 64 KiB: harmless unless the server inflates bodies. */
export function gzipBomb(): Buffer {
  bomb ??= gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 })
  return bomb
}

/** Values for a path parameter that is not a good id. */
export function oddPathValue(random: Random): string {
  return random.pick([
    '..',
    '%2e%2e',
    '..%2f..%2fadmin',
    '%00',
    'a%00b',
    '%ff%fe',
    '%zz',
    '%',
    '%ED%A0%80',
    'x'.repeat(random.pick([100, 101, 1000, 10_000, 70_000])),
    '00000000-0000-0000-0000-000000000000',
    'ffffffff-ffff-ffff-ffff-ffffffffffff',
    '00000000-0000-0000-0000-00000000000g',
    '%20',
    '%E2%80%AE',
    '-1',
    '1e309',
    'null',
    'constructor',
    '__proto__',
    '%2F',
    'a;b=c',
  ])
}

/** A query string that repeats, nests or garbles the operation's parameters. */
export function oddQuery(names: readonly string[], random: Random): string {
  const name =
    names.length > 0 && random.chance(0.8) ? random.pick(names) : random.pick(['x', 'limit', '__proto__'])
  const value = () =>
    random.pick([
      '1',
      '0',
      '-1',
      '1e309',
      '9007199254740993',
      '',
      '%00',
      '%ff',
      '%zz',
      'true',
      '2026-13-45',
      '+275760-09-13T00:00:00.001Z',
      '0001-01-01T00:00:00Z',
      'x'.repeat(5000),
      encodeURIComponent(Buffer.from('{"seq":-1}').toString('base64url')),
      encodeURIComponent('\u0000'),
    ])
  switch (random.int(5)) {
    case 0:
      return `${name}=${value()}&${name}=${value()}`
    case 1:
      return `${name}[]=${value()}&${name}[]=${value()}`
    case 2:
      return `${name}[a][b]=${value()}`
    case 3:
      return `${name}`
    default:
      return Array.from(
        { length: 1 + random.int(3) },
        () => `${random.pick(names.length ? names : ['q'])}=${value()}`,
      ).join('&')
  }
}

export interface WireRequest {
  method: string
  path: string
  headers: [string, string][]
  body?: Buffer
  /** How the request is framed on the wire: normally, declared longer or shorter than sent, chunked badly. */
  framing:
    | 'normal'
    | 'declared-longer'
    | 'declared-shorter'
    | 'bad-chunks'
    | 'length-and-chunked'
    | 'no-length'
}

/** The bytes of a request; header values are written as latin1 bytes, as a client that does not check them would. */
export function wireBytes(request: WireRequest): Buffer {
  const body = request.body ?? Buffer.alloc(0)
  const head: string[] = [`${request.method} ${request.path} HTTP/1.1`, 'Host: 127.0.0.1']
  for (const [name, value] of request.headers) head.push(`${name}: ${value}`)
  let payload = body
  const hasBody = request.body !== undefined
  switch (request.framing) {
    case 'normal':
      if (hasBody) head.push(`Content-Length: ${body.length}`)
      break
    case 'declared-longer':
      head.push(`Content-Length: ${body.length + 10}`)
      break
    case 'declared-shorter':
      head.push(`Content-Length: ${Math.max(0, body.length - 3)}`)
      break
    case 'bad-chunks':
      head.push('Transfer-Encoding: chunked')
      payload = Buffer.concat([Buffer.from(`zz\r\n`), body, Buffer.from('\r\n0\r\n\r\n')])
      break
    case 'length-and-chunked':
      head.push(`Content-Length: ${body.length}`, 'Transfer-Encoding: chunked')
      payload = Buffer.concat([
        Buffer.from(`${body.length.toString(16)}\r\n`),
        body,
        Buffer.from('\r\n0\r\n\r\n'),
      ])
      break
    case 'no-length':
      break
  }
  return Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1'), payload])
}
