import { Type } from '@fastify/type-provider-typebox'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TIMED_OUT, withDeadline } from '../../src/platform/deadline.js'
import { problemTypes } from '../../src/platform/problems.js'
import { startTestApp, type TestApp } from '../helpers/app.js'
import { openConnection, type RawResponse } from '../helpers/raw-http.js'
import { waitFor } from '../helpers/wait.js'

/** The HTTP connections the test app's server holds open. */
function openConnections(t: TestApp): Promise<number> {
  return new Promise((resolve, reject) =>
    t.app.server.getConnections((err, count) => (err ? reject(err) : resolve(count))),
  )
}

describe('errors are problem documents', () => {
  let t: TestApp
  /** Requests that reached /test/items, before their body is read. */
  let arrivals = 0
  beforeAll(async () => {
    t = await startTestApp({
      routes: (app) => {
        app.post(
          '/test/items',
          {
            onRequest: async () => {
              arrivals++
            },
            schema: {
              querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })) }),
              body: Type.Object({ items: Type.Array(Type.Object({ sku: Type.String({ minLength: 1 }) })) }),
            },
          },
          async () => ({ ok: true }),
        )
      },
    })
  })
  afterAll(() => t.close())

  function expectProblem(
    res: { statusCode: number; headers: Record<string, unknown>; json(): unknown },
    status: number,
    type: string,
  ) {
    expect(res.statusCode).toBe(status)
    expect(res.headers['content-type']).toBe('application/problem+json; charset=utf-8')
    expect(res.json()).toMatchObject({ type: `/problems/${type}`, status, title: expect.any(String) })
  }

  it('answers an unknown route with a 404 problem', async () => {
    const res = await t.app.inject('/v1/nothing-here?x=1')
    expectProblem(res, 404, 'not-found')
    expect(res.json()).toMatchObject({
      detail: 'No route GET /v1/nothing-here',
      instance: '/v1/nothing-here',
    })
  })

  it('answers malformed JSON with 400', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/test/items',
      headers: { 'content-type': 'application/json' },
      payload: '{"items": [',
    })
    expectProblem(res, 400, 'malformed-json')
  })

  it('answers an empty JSON body with 400', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/test/items',
      headers: { 'content-type': 'application/json' },
      payload: '',
    })
    expectProblem(res, 400, 'malformed-json')
  })

  it('answers a body that breaks the schema with 422 naming the field', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/test/items',
      payload: { items: [{ sku: 'a' }, { sku: '' }] },
    })
    expectProblem(res, 422, 'validation-failed')
    expect(res.json()).toMatchObject({
      detail: 'items[1].sku must not be empty',
      errors: [{ location: 'body', pointer: '/items/1/sku' }],
    })
    const missing = await t.app.inject({ method: 'POST', url: '/test/items', payload: {} })
    expect(missing.json()).toMatchObject({ errors: [{ pointer: '/items' }] })
  })

  it('does not coerce types in a JSON body', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/test/items', payload: { items: [{ sku: 5 }] } })
    expectProblem(res, 422, 'validation-failed')
    expect(res.json()).toMatchObject({ errors: [{ pointer: '/items/0/sku' }] })
  })

  it('answers a bad query parameter with 400', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/test/items?limit=0', payload: { items: [] } })
    expectProblem(res, 400, 'invalid-parameters')
    expect(res.json()).toMatchObject({ errors: [{ location: 'querystring', pointer: '/limit' }] })
  })

  it('answers an unsupported content type with 415', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/test/items',
      headers: { 'content-type': 'application/xml' },
      payload: '<items/>',
    })
    expectProblem(res, 415, 'unsupported-media-type')
  })

  it('answers a body over the limit with 413', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/test/items',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ items: [{ sku: 'x'.repeat(t.config.bodyLimitBytes) }] }),
    })
    expectProblem(res, 413, 'payload-too-large')
  })

  describe('before there is a request to route', () => {
    let url: string
    beforeAll(async () => {
      url = await t.app.listen({ port: 0, host: '127.0.0.1' })
    })

    /** The first answer to `request`; once the server has closed the connection, unless `closes` is false. */
    async function rawAnswer(request: string, closes = true) {
      const connection = await openConnection(url)
      try {
        connection.write(request)
        const response = await connection.response()
        if (closes) await connection.closed
        return response
      } finally {
        connection.socket.destroy()
      }
    }

    function expectRawProblem(response: RawResponse, status: number, type: string) {
      expect(response.status).toBe(status)
      expect(response.headers['content-type']).toBe('application/problem+json; charset=utf-8')
      expect(JSON.parse(response.body)).toMatchObject({ type: `/problems/${type}`, status })
    }

    it('answers malformed HTTP with a 400 problem and closes the connection', async () => {
      const response = await rawAnswer('NOT HTTP AT ALL\r\n\r\n')
      expectRawProblem(response, 400, 'bad-request')
      expect(response.headers.connection).toBe('close')
    })

    it('answers a CONNECT request with a 405 problem and closes the connection, rather than dropping it', async () => {
      for (const request of [
        'CONNECT /livez HTTP/1.1\r\nHost: test\r\n\r\n',
        'CONNECT a:1 HTTP/1.1\r\n\r\nbytes',
      ]) {
        const response = await rawAnswer(request)
        expectRawProblem(response, 405, 'method-not-allowed')
        expect(response.headers.connection).toBe('close')
      }
      // Closed on the server's side too, or the listener could never close.
      await waitFor(async () => (await openConnections(t)) === 0, { description: 'no connection left open' })
    })

    it('lets go of a CONNECT connection whose client sent more than the server buffers once the client closes', async () => {
      // More than a socket reads ahead: the server's close used to wait on such a connection for good.
      const connection = await openConnection(url)
      connection.write(`CONNECT /livez HTTP/1.1\r\nHost: test\r\n\r\n${'x'.repeat(1024 * 1024)}`)
      expectRawProblem(await connection.response(), 405, 'method-not-allowed')
      connection.socket.destroy()
      await waitFor(async () => (await openConnections(t)) === 0, {
        description: 'the server to release the connection the client closed',
        timeoutMs: 5000,
      })
    })

    it('answers an Expect header other than 100-continue with a 417 problem, rather than a bare 417', async () => {
      const response = await rawAnswer(
        'GET /livez HTTP/1.1\r\nHost: test\r\nExpect: something-else\r\n\r\n',
        false,
      )
      expectRawProblem(response, 417, 'expectation-failed')
    })

    it('takes a client that hangs up halfway through its body for a client error, not for a database outage', async () => {
      const connection = await openConnection(url)
      const before = t.logs.lines.length
      const arrived = arrivals + 1
      connection.write(
        'POST /test/items HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"items":',
      )
      // Once the body is being read, the client leaves: Node's 'aborted' error has the code ECONNRESET.
      await waitFor(() => arrivals >= arrived, { description: 'the request to arrive' })
      connection.socket.destroy()
      const refused = await waitFor(
        () =>
          t.logs.lines
            .slice(before)
            .find((line) => line.msg === 'request refused' || line.msg === 'request failed'),
        { description: 'the aborted request to be logged' },
      )
      expect(refused).toMatchObject({ msg: 'request refused', level: 30, statusCode: 400 })
    })

    it('answers headers over the limit with 431', async () => {
      const response = await rawAnswer(
        `GET /livez HTTP/1.1\r\nHost: test\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      )
      expectRawProblem(response, 431, 'headers-too-large')
    })
  })

  it('describes every problem type at its type URI', async () => {
    for (const [type, { status, title }] of Object.entries(problemTypes)) {
      const res = await t.app.inject(`/problems/${type}`)
      expect(res.statusCode).toBe(200)
      expect(res.json()).toEqual({ type: `/problems/${type}`, status, title })
    }
    expectProblem(await t.app.inject('/problems/no-such-type'), 404, 'not-found')
  })

  it('publishes an OpenAPI document', async () => {
    const res = await t.app.inject('/openapi.json')
    expect(res.statusCode).toBe(200)
    const document = res.json()
    expect(document).toMatchObject({ openapi: '3.1.0', paths: { '/readyz': expect.any(Object) } })
    expect(document.components.securitySchemes).toMatchObject({
      apiKey: { scheme: 'bearer' },
      adminToken: { scheme: 'bearer' },
      dashboardSession: { type: 'apiKey', in: 'cookie', name: 'pos_admin_session' },
    })
    expect(document.paths['/v1/ingest/{source}'].post.security).toEqual([{ apiKey: [] }])
    expect(document.paths['/v1/admin/tenants'].post.security).toEqual([
      { adminToken: [] },
      { dashboardSession: [] },
    ])
    expect(document.paths['/readyz'].get.security).toBeUndefined()
  })
})

describe('a closing server', () => {
  it('waits on no CONNECT connection it refused, even one whose client keeps it open without reading', async () => {
    // The test's own app, since it is closed here; the request timeout is long enough not to be what ends it.
    const t = await startTestApp({ env: { REQUEST_TIMEOUT_MS: '600000' } })
    const url = await t.app.listen({ port: 0, host: '127.0.0.1' })
    const tunnel = await openConnection(url, { allowHalfOpen: true })
    const idle = await openConnection(url)
    try {
      // A body larger than the server reads ahead, from a client that never closes: the state the fuzz test's
      // seed 5 left behind, when the app's close then never finished.
      tunnel.write(`CONNECT /livez HTTP/1.1\r\nHost: test\r\n\r\n${'x'.repeat(1024 * 1024)}`)
      expect((await tunnel.response()).status).toBe(405)
      // And a keep-alive connection left idle after a whole exchange.
      idle.write('GET /livez HTTP/1.1\r\nHost: test\r\n\r\n')
      expect((await idle.response()).status).toBe(200)
      expect(await openConnections(t)).toBe(2)
      // The listener's close completes only once the server has let go of every connection.
      expect(await withDeadline(t.close(), 10_000)).not.toBe(TIMED_OUT)
      await idle.closed
    } finally {
      tunnel.socket.destroy()
      idle.socket.destroy()
    }
  })
})
