// The public API's shapes, defined once in TypeBox: the server validates requests and documents its
// responses with them, and the SDK and the dashboard type their requests and answers with them, so they cannot
// drift.
export * from './admin.js'
export * from './dashboard.js'
export * from './device-config.js'
export * from './events.js'
export * from './examples.js'
export * from './inventory.js'
export * from './money.js'
export * from './order.js'
export * from './pagination.js'
export * from './problem.js'
export * from './product.js'
export * from './webhook.js'
