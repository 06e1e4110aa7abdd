// npm run bench:group-commit: what the group committer itself costs, without a database. A fixed number of
// clients each submit an item, wait for its answer and submit the next (as HTTP connections do), through a
// GroupCommitter configured like the ingest path's. Scenarios: a write that does nothing (the committer's own
// cost per item, set against each client calling the write directly), the same with every item keyed (as
// requests with an Idempotency-Key are), and a write that takes about a millisecond (how batches grow while
// a write is under way). Each scenario runs a few rounds after a warm-up and the median round is printed (the
// machine is shared, single rounds are noisy). Prints figures only; it asserts nothing about timing.
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { GroupCommitter } from '../src/platform/group-commit.js'
import { positiveInteger } from './support/options.js'

interface Options {
  readonly items: number
  readonly slowItems: number
  readonly clients: number
  readonly concurrency: number
  readonly maxWeight: number
  readonly rounds: number
}

function readOptions(): Options {
  const { values } = parseArgs({
    options: {
      items: { type: 'string', default: '200000' },
      'slow-items': { type: 'string', default: '20000' },
      clients: { type: 'string', default: '50' },
      concurrency: { type: 'string', default: '1' },
      'max-weight': { type: 'string', default: '5000' },
      rounds: { type: 'string', default: '5' },
    },
  })
  return {
    items: positiveInteger('items', values.items),
    slowItems: positiveInteger('slow-items', values['slow-items']),
    clients: positiveInteger('clients', values.clients),
    concurrency: positiveInteger('concurrency', values.concurrency),
    maxWeight: positiveInteger('max-weight', values['max-weight']),
    rounds: positiveInteger('rounds', values.rounds),
  }
}

interface Item {
  readonly seq: number
  readonly key: string | undefined
}

type Write = (batch: Item[]) => Promise<number[]>

const noopWrite: Write = async (batch) => batch.map((item) => item.seq)
const oneMillisecondWrite: Write = async (batch) => {
  await sleep(1)
  return batch.map((item) => item.seq)
}

interface Figures {
  readonly items: number
  readonly batches: number
  readonly maxBatch: number
  readonly wallNs: number
  readonly cpuNs: number
}

/** `clients` loops, each submitting its next item once the previous one was answered, until `items` are. */
async function drive(
  items: number,
  clients: number,
  submit: (item: Item) => Promise<number>,
  keyed: boolean,
) {
  let next = 0
  const client = async () => {
    while (next < items) {
      const seq = next++
      const answer = await submit({ seq, key: keyed ? `key-${seq}` : undefined })
      if (answer !== seq) throw new Error(`item ${seq} was answered with ${answer}`)
    }
  }
  await Promise.all(Array.from({ length: clients }, client))
}

async function measure(run: () => Promise<void>): Promise<{ wallNs: number; cpuNs: number }> {
  const cpu = process.cpuUsage()
  const start = process.hrtime.bigint()
  await run()
  const wallNs = Number(process.hrtime.bigint() - start)
  const used = process.cpuUsage(cpu)
  return { wallNs, cpuNs: (used.user + used.system) * 1000 }
}

async function throughCommitter(
  write: Write,
  items: number,
  keyed: boolean,
  options: Options,
): Promise<Figures> {
  let batches = 0
  let maxBatch = 0
  const committer = new GroupCommitter<Item, number>(
    (batch) => {
      batches++
      maxBatch = Math.max(maxBatch, batch.length)
      return write(batch)
    },
    {
      concurrency: options.concurrency,
      maxWeight: options.maxWeight,
      weight: () => 1,
      exclusiveKey: (item) => item.key,
    },
  )
  const time = await measure(() => drive(items, options.clients, (item) => committer.submit(item), keyed))
  return { items, batches, maxBatch, ...time }
}

/** The same clients calling the write themselves, one item each: what the committer's figures compare to. */
async function direct(write: Write, items: number, options: Options): Promise<Figures> {
  const time = await measure(() =>
    drive(items, options.clients, async (item) => (await write([item]))[0]!, false),
  )
  return { items, batches: items, maxBatch: 1, ...time }
}

function report(name: string, figures: Figures, baseline?: Figures): void {
  const perItem = (ns: number) => ns / figures.items
  const row: Record<string, string> = {
    'items/s': Math.round(figures.items / (figures.wallNs / 1e9)).toLocaleString('en-US'),
    'mean batch': (figures.items / figures.batches).toFixed(1),
    'max batch': String(figures.maxBatch),
    'wall ns/item': perItem(figures.wallNs).toFixed(0),
    'cpu ns/item': perItem(figures.cpuNs).toFixed(0),
  }
  if (baseline !== undefined) {
    // From CPU time: on a shared machine, wall time also counts the time other processes held the core.
    row['overhead cpu ns/item'] = (perItem(figures.cpuNs) - baseline.cpuNs / baseline.items).toFixed(0)
  }
  console.log(
    `${name.padEnd(34)} ${Object.entries(row)
      .map(([label, value]) => `${label} ${value}`)
      .join('  ')}`,
  )
}

/** A warm-up pass (so the JIT has compiled the path), then the median of `rounds` timed ones. */
async function median(rounds: number, warmup: () => Promise<unknown>, run: () => Promise<Figures>) {
  await warmup()
  const runs: Figures[] = []
  for (let i = 0; i < rounds; i++) runs.push(await run())
  runs.sort((a, b) => a.wallNs - b.wallNs)
  return runs[Math.floor(runs.length / 2)]!
}

async function main(): Promise<void> {
  const options = readOptions()
  const { items, slowItems, rounds } = options
  console.log(
    `group commit: ${options.clients} clients, concurrency ${options.concurrency}, max weight ${options.maxWeight}, ` +
      `${items} items (${slowItems} with the 1 ms write), median of ${rounds} rounds, node ${process.version}`,
  )
  const warmup = Math.min(items, 20_000)
  const baseline = await median(
    rounds,
    () => direct(noopWrite, warmup, options),
    () => direct(noopWrite, items, options),
  )
  report('no-op write, called directly', baseline)
  for (const keyed of [false, true]) {
    const figures = await median(
      rounds,
      () => throughCommitter(noopWrite, warmup, keyed, options),
      () => throughCommitter(noopWrite, items, keyed, options),
    )
    report(keyed ? 'no-op write, group commit, keyed' : 'no-op write, group commit', figures, baseline)
  }
  const slow = await median(
    rounds,
    async () => {},
    () => throughCommitter(oneMillisecondWrite, slowItems, false, options),
  )
  report('1 ms write, group commit', slow)
}

await main()
