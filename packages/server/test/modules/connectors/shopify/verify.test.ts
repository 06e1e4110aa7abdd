import { createHmac } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import { describe, expect, it } from 'vitest'
import type { ShopifyConfig } from '../../../../src/modules/connectors/config.js'
import { shopifyProvider } from '../../../../src/modules/connectors/shopify/provider.js'
import { FakeShopify, shopifySignature } from '../../../fakes/shopify.js'

const config: ShopifyConfig = {
  shopDomain: 'fake-shop.myshopify.com',
  webhookSecret: 'test-webhook-secret',
  accessToken: 'shpat_x',
  apiVersion: '2025-01',
  baseUrl: 'http://127.0.0.1:1',
}

// An independently published vector (another project's test of Shopify webhook verification): this body
// and secret give this header.
const VECTOR_BODY = '{"id":1234567890,"email":"customer@example.com","total_price":"123.45"}'
const VECTOR_HMAC = 'QNyObTlKbMx2qDlPF/ZOZcBqg5OgPg+2oky3zldc0Gw='

const headersOf = (hmac: string | string[] | undefined, shop = config.shopDomain): IncomingHttpHeaders => ({
  'x-shopify-hmac-sha256': hmac,
  'x-shopify-shop-domain': shop,
})

describe('Shopify webhook verification', () => {
  it('accepts the published vector', () => {
    expect(shopifyProvider.verify(config, Buffer.from(VECTOR_BODY), headersOf(VECTOR_HMAC))).toBe(true)
  })

  it('accepts what the fake Shopify signs, with its headers', () => {
    const shop = new FakeShopify({ webhookSecret: 'another secret' })
    const { headers, body } = shop.webhook('orders/create', { id: 1, line_items: [] })
    const incoming = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]))
    expect(shopifyProvider.verify(shop.config(), Buffer.from(body), incoming)).toBe(true)
  })

  it('refuses a body changed by one byte', () => {
    const tampered = VECTOR_BODY.replace('123.45', '123.46')
    expect(shopifyProvider.verify(config, Buffer.from(tampered), headersOf(VECTOR_HMAC))).toBe(false)
  })

  it('refuses a signature made with another secret, or changed in one character', () => {
    const other = shopifySignature('another-secret', VECTOR_BODY)
    expect(shopifyProvider.verify(config, Buffer.from(VECTOR_BODY), headersOf(other))).toBe(false)
    const flipped = `${VECTOR_HMAC[0] === 'Q' ? 'R' : 'Q'}${VECTOR_HMAC.slice(1)}`
    expect(shopifyProvider.verify(config, Buffer.from(VECTOR_BODY), headersOf(flipped))).toBe(false)
  })

  it('refuses a missing, repeated, empty, hex or truncated signature', () => {
    const body = Buffer.from(VECTOR_BODY)
    const hex = createHmac('sha256', config.webhookSecret).update(body).digest('hex')
    for (const hmac of [
      undefined,
      '',
      [VECTOR_HMAC, VECTOR_HMAC],
      hex,
      VECTOR_HMAC.slice(0, 40),
      `${VECTOR_HMAC}=`,
    ]) {
      expect(shopifyProvider.verify(config, body, headersOf(hmac)), String(hmac)).toBe(false)
    }
    expect(shopifyProvider.verify(config, body, {})).toBe(false)
  })

  it('refuses everything when no secret is configured', () => {
    const body = Buffer.from(VECTOR_BODY)
    const signedWithNothing = shopifySignature('', body)
    expect(shopifyProvider.verify({ ...config, webhookSecret: '' }, body, headersOf(signedWithNothing))).toBe(
      false,
    )
  })

  it("refuses another shop's webhook signed with the same app secret, whatever the case of the domain", () => {
    const body = Buffer.from(VECTOR_BODY)
    expect(shopifyProvider.verify(config, body, headersOf(VECTOR_HMAC, 'other-shop.myshopify.com'))).toBe(
      false,
    )
    expect(shopifyProvider.verify(config, body, { 'x-shopify-hmac-sha256': VECTOR_HMAC })).toBe(false)
    expect(shopifyProvider.verify(config, body, headersOf(VECTOR_HMAC, 'Fake-Shop.myshopify.com'))).toBe(true)
  })
})

describe('Shopify webhook names', () => {
  it('take the event id from X-Shopify-Event-Id, else X-Shopify-Webhook-Id', () => {
    expect(shopifyProvider.eventId({ 'x-shopify-event-id': 'e1', 'x-shopify-webhook-id': 'w1' }, {})).toBe(
      'e1',
    )
    expect(shopifyProvider.eventId({ 'x-shopify-webhook-id': 'w1' }, {})).toBe('w1')
    expect(shopifyProvider.eventId({ 'x-shopify-event-id': '' }, {})).toBeUndefined()
    expect(shopifyProvider.eventId({}, { id: 1 })).toBeUndefined()
  })

  it('take the topic from X-Shopify-Topic', () => {
    expect(shopifyProvider.topic({ 'x-shopify-topic': 'orders/create' }, {})).toBe('orders/create')
    expect(shopifyProvider.topic({}, {})).toBeUndefined()
  })

  it('send the access token on every API request', () => {
    expect(shopifyProvider.authHeaders(config)).toMatchObject({ 'X-Shopify-Access-Token': 'shpat_x' })
  })
})
