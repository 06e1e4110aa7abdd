import { Type } from '@fastify/type-provider-typebox'
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestApp, type TestApp } from '../helpers/app.js'

// Values that must never reach a log line, whichever way they arrive.
const PLANTED = {
  bearer: 'sk_live_planted_bearer_0001',
  cookie: 'session=planted_cookie_0002',
  apiKey: 'planted_api_key_0003',
  signature: 't=1,v1=planted_signature_0004',
  queryToken: 'planted_query_token_0005',
  queryEmail: 'planted.query@example.com',
  password: 'planted_password_0006',
  cardNumber: '4111111111110007',
  email: 'planted.body@example.com',
  phone: '+15550000008',
  customerName: 'Planted Customer Name 0009',
  queryParameter: 'planted_query_parameter_0010',
}

describe('logging', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await startTestApp({
      routes: (app) => {
        app.post(
          '/test/customers',
          {
            schema: {
              body: Type.Object({
                email: Type.String({ format: 'email' }),
                password: Type.String(),
                phone: Type.String(),
                customer: Type.Object({ name: Type.String() }),
                card_number: Type.String(),
              }),
            },
          },
          async (request) => {
            // A handler that logs what it was sent must still not leak it.
            request.log.info({ body: request.body, headers: request.headers }, 'customer received')
            return { ok: true }
          },
        )
        app.get('/test/fails', async () => {
          throw new Error('database exploded')
        })
        app.get('/test/query-fails', async () => {
          // A failing query: Drizzle's error quotes the SQL and its parameters, the driver's quotes the input.
          await app.platform.database.db.execute(sql`SELECT ${PLANTED.queryParameter}::int AS n`)
          return { ok: true }
        })
      },
    })
  })
  afterAll(() => t.close())

  const headers = {
    authorization: `Bearer ${PLANTED.bearer}`,
    cookie: PLANTED.cookie,
    'x-api-key': PLANTED.apiKey,
    'x-signature': PLANTED.signature,
  }
  const body = {
    email: PLANTED.email,
    password: PLANTED.password,
    phone: PLANTED.phone,
    customer: { name: PLANTED.customerName },
    card_number: PLANTED.cardNumber,
  }

  it('keeps secrets and personal data out of the log on every path', async () => {
    const query = `?token=${PLANTED.queryToken}&email=${encodeURIComponent(PLANTED.queryEmail)}`
    const responses = await Promise.all([
      t.app.inject({ method: 'POST', url: `/test/customers${query}`, headers, payload: body }),
      t.app.inject({
        method: 'POST',
        url: `/test/customers${query}`,
        headers,
        payload: { ...body, phone: 5555 },
      }),
      t.app.inject({
        method: 'POST',
        url: `/test/customers${query}`,
        headers: { ...headers, 'content-type': 'application/json' },
        payload: `{"email": "${PLANTED.email}", "password": "${PLANTED.password}"`,
      }),
      t.app.inject({ method: 'GET', url: `/no/such/route${query}`, headers }),
      t.app.inject({ method: 'GET', url: `/test/fails${query}`, headers }),
      t.app.inject({ method: 'GET', url: `/readyz${query}`, headers }),
      t.app.inject({ method: 'GET', url: '/test/query-fails' }),
    ])
    expect(responses.map((r) => r.statusCode)).toEqual([200, 422, 400, 404, 500, 200, 500])
    // The failed query is logged by its SQLSTATE, without the query, its parameters or the input.
    expect(t.logs.lines).toContainEqual(
      expect.objectContaining({
        msg: 'request failed',
        err: expect.objectContaining({ type: 'DatabaseError', code: '22P02' }),
      }),
    )

    const text = t.logs.text()
    for (const [name, value] of Object.entries(PLANTED)) {
      expect(text, `${name} leaked into the log`).not.toContain(value)
    }
    // The handler's own log line is there, with the sensitive fields censored.
    const received = t.logs.lines.find((line) => line.msg === 'customer received') as {
      body: Record<string, unknown>
      headers: Record<string, unknown>
    }
    expect(received.body).toMatchObject({
      email: '[redacted]',
      password: '[redacted]',
      card_number: '[redacted]',
    })
    expect(received.headers).toMatchObject({ authorization: '[redacted]', cookie: '[redacted]' })
  })

  it('logs one line per request with the route path and never the query string', async () => {
    await t.app.inject({ method: 'GET', url: '/no/such/thing?token=abc&email=x%40y.z' })
    const line = t.logs.lines.findLast((l) => l.msg === 'request completed')
    expect(line).toMatchObject({ method: 'GET', route: 'unmatched', path: '/no/such/thing', statusCode: 404 })
    expect(line?.reqId).toEqual(expect.any(String))
  })

  it('logs a server error with its stack, and a client error only by its problem type', async () => {
    const errorLine = t.logs.lines.find((l) => l.msg === 'request failed') as { err: { message: string } }
    expect(errorLine.err.message).toBe('database exploded')
    const refused = t.logs.lines.filter((l) => l.msg === 'request refused')
    expect(refused.map((l) => l.problem)).toEqual(
      expect.arrayContaining(['/problems/validation-failed', '/problems/malformed-json']),
    )
  })
})
