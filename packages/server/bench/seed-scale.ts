// npm run bench:seed -- --events 5000000: a fresh PostgreSQL database (on TEST_POSTGRES_URL's server), migrated
// and seeded with one large tenant of that many events beside --small-tenants small ones. Prints the database
// URL, to pass to `npm run bench:scale -- --large-database <url>`, and its size; the database is kept. A base
// database for --base-database takes the large one's key spread: --events 10000 --skus 5000 --stores 40.
import { parseArgs } from 'node:util'
import pg from 'pg'
import { positiveInteger } from './support/options.js'
import { createSeededDatabase } from './support/scale-database.js'
import { keySpreadOf } from './support/scale-seed.js'

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '5000000' },
    'small-tenants': { type: 'string', default: '1000' },
    'small-events': { type: 'string', default: '50' },
    // The large tenant's spread of keys; by default it grows with --events (support/scale-seed.ts).
    skus: { type: 'string' },
    stores: { type: 'string' },
  },
})
const events = positiveInteger('events', values.events)
const spread = keySpreadOf(events)
const seeded = await createSeededDatabase({
  events,
  smallTenants: positiveInteger('small-tenants', values['small-tenants']),
  eventsPerSmallTenant: positiveInteger('small-events', values['small-events']),
  spread: {
    skus: values.skus === undefined ? spread.skus : positiveInteger('skus', values.skus),
    stores: values.stores === undefined ? spread.stores : positiveInteger('stores', values.stores),
  },
  log: (line) => process.stdout.write(`${line}\n`),
})
const client = new pg.Client({ connectionString: seeded.database.url })
await client.connect()
const { rows } = await client.query<{ bytes: string }>('SELECT pg_database_size(current_database()) AS bytes')
await client.end()
const bytes = Number(rows[0]!.bytes)
process.stdout.write(
  `seeded ${events} events for tenant ${seeded.seed.large.tenantId} in ${seeded.seconds.toFixed(0)} s; ` +
    `database ${(bytes / 2 ** 20).toFixed(0)} MiB (${((bytes / 2 ** 20) * (1e6 / events)).toFixed(0)} MiB per million events)\n` +
    `${seeded.database.url}\n`,
)
