// Products of a tenant's catalog: what a POS or the API sends to create or change one, and how the API shows it.
import { Type } from 'typebox'
import { Price } from './money.js'
import { pageQuery } from './pagination.js'

/** The tenant's own product code. */
export const Sku = Type.String({ minLength: 1, maxLength: 200, description: "The tenant's product code" })

const productFields = {
  name: Type.String({ minLength: 1, maxLength: 500 }),
  price: Price,
  barcode: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
}

/** A whole product: the data of a `product.upserted` event and the body of POST /v1/products. */
export const NewProduct = Type.Object(
  { sku: Sku, ...productFields },
  { additionalProperties: false, title: 'NewProduct' },
)

/** A product whose SKU is in the URL: the body of PUT /v1/products/:sku. */
export const ProductUpdate = Type.Object(productFields, {
  additionalProperties: false,
  title: 'ProductUpdate',
})

/** The data of a `product.deleted` event. */
export const ProductDeletion = Type.Object(
  { sku: Sku },
  { additionalProperties: false, title: 'ProductDeletion' },
)

/** A product as the API shows it. */
export const Product = Type.Object(
  {
    sku: Type.String(),
    name: Type.String(),
    price: Price,
    barcode: Type.Union([Type.String(), Type.Null()]),
    deleted: Type.Boolean(),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { title: 'Product' },
)

/** The query of GET /v1/products. */
export const ProductListQuery = Type.Object({
  sku: Type.Optional(Type.String({ minLength: 1 })),
  barcode: Type.Optional(Type.String({ minLength: 1 })),
  includeDeleted: Type.Boolean({ default: false, description: 'Also list deleted products' }),
  ...pageQuery,
})
