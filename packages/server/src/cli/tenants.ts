// CLI commands on tenants: create, list, and set the rate limit of their API keys.
import { CreateTenantBody, RateLimitBody } from '@pos/contracts/admin'
import { tenantView } from '../modules/tenants/schemas.js'
import { type CommandGroup, table, UsageError, validated } from './command.js'

export const tenantCommands: CommandGroup = {
  'tenant:create': {
    args: ['name'],
    summary: 'Creates a tenant',
    prepare([name]) {
      const body = validated(CreateTenantBody, { name })
      return async ({ services }) => {
        const tenant = tenantView(await services.tenants.createTenant(body.name))
        return { json: tenant, text: `Created tenant "${tenant.name}": ${tenant.id}\n` }
      }
    },
  },
  'tenant:list': {
    args: [],
    summary: 'Lists every tenant',
    prepare() {
      return async ({ services }) => {
        const data = (await services.tenants.listTenants()).map(tenantView)
        const rows = data.map((t) => [t.id, t.name, t.createdAt])
        return { json: { data }, text: table(['ID', 'NAME', 'CREATED'], rows) }
      }
    },
  },
  'tenant:rate-limit': {
    args: ['tenantId'],
    options: { max: 'N', 'window-ms': 'MS' },
    summary: "Sets a tenant's limit per API key to --max requests per --window-ms; without both, the default",
    prepare([tenantId = ''], options) {
      const { max, 'window-ms': windowMs } = options
      if ((max === undefined) !== (windowMs === undefined)) {
        throw new UsageError('give --max and --window-ms together, or neither to return to the default')
      }
      const policy =
        max === undefined ? null : validated(RateLimitBody, { max: Number(max), windowMs: Number(windowMs) })
      return async ({ services }) => {
        const tenant = tenantView(await services.tenants.setRateLimit(tenantId, policy))
        const limit = tenant.rateLimit
          ? `${tenant.rateLimit.max} requests per ${tenant.rateLimit.windowMs} ms per API key`
          : "the service's default"
        return { json: tenant, text: `Tenant "${tenant.name}" (${tenant.id}) is limited to ${limit}\n` }
      }
    },
  },
}
