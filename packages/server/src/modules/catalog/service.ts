// The catalog as the API shows it: the tenant's products, by SKU or a page at a time. Products are written
// only through the ingest write path (POS events and the write routes), never here.
import type { PageQuery } from '@pos/contracts/pagination'
import type { Database } from '../../platform/database.js'
import { type CursorCodec, type CursorSeal, idCursor } from '../../platform/pagination.js'
import { ProblemError } from '../../platform/problems.js'
import { CatalogRepository, type ProductFilter, type ProductView } from './repository.js'

export class CatalogService {
  readonly #repository: CatalogRepository

  readonly #cursors: CursorCodec<number>

  /** `cursors` seals the list's cursors (CursorSeal.of the process's secrets). */
  constructor(db: Database, cursors: CursorSeal) {
    this.#repository = new CatalogRepository(db)
    this.#cursors = idCursor('products', cursors)
  }

  async listProducts(tenantId: string, filter: ProductFilter, query: PageQuery) {
    const slice = await this.#repository.listProducts(tenantId, filter, this.#cursors.request(query))
    return this.#cursors.page(slice)
  }

  /** The product with this SKU, or undefined when there is none or it was deleted. */
  findProduct(tenantId: string, sku: string): Promise<ProductView | undefined> {
    return this.#repository.findProduct(tenantId, sku)
  }

  /** The product with this SKU; 404 not-found when there is none or it was deleted. */
  async getProduct(tenantId: string, sku: string): Promise<ProductView> {
    const product = await this.#repository.findProduct(tenantId, sku)
    if (product === undefined) throw new ProblemError('not-found', `No product with SKU ${sku}`)
    return product
  }
}
