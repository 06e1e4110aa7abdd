// The connector settings of test sources of each provider (calls to the provider go to a port nothing listens
// on), and each provider's webhook signature over a body's exact bytes.
import { createHmac } from 'node:crypto'

export const SQUARE_CONNECTOR = {
  signatureKey: 'test-square-key',
  notificationUrl: 'https://hooks.example.com/square',
  accessToken: 'sq-token',
  baseUrl: 'http://127.0.0.1:9',
}
export const SHOPIFY_CONNECTOR = {
  shopDomain: 'test.myshopify.com',
  webhookSecret: 'test-shopify-secret',
  accessToken: 'shp-token',
  baseUrl: 'http://127.0.0.1:9',
}

/** Square's X-Square-Hmacsha256-Signature: base64 HMAC-SHA256 of the notification URL, then the body. */
export function squareSignature(body: Buffer, key = SQUARE_CONNECTOR.signatureKey): string {
  return createHmac('sha256', key).update(SQUARE_CONNECTOR.notificationUrl).update(body).digest('base64')
}

/** Shopify's X-Shopify-Hmac-Sha256: base64 HMAC-SHA256 of the body. */
export function shopifySignature(body: Buffer, secret = SHOPIFY_CONNECTOR.webhookSecret): string {
  return createHmac('sha256', secret).update(body).digest('base64')
}
