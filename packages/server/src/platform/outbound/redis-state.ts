// Breaker and budget state in Redis, changed only by the Lua scripts below so that each decision is atomic for
// the whole fleet. The scripts read Redis's TIME: replicas with skewed clocks still agree on windows and
// cool-downs, and the scripts answer durations ("retry after N ms"), never instants. Calls for one target
// that arrive while a script for it runs are decided together by the next one, one after another.
import { createHash } from 'node:crypto'
import type { Redis } from 'ioredis'
import { GroupCommitter } from '../group-commit.js'
import {
  type AdmitAnswer,
  type AdmitRequest,
  type BreakerState,
  BUDGET_BUCKET_MS,
  BUDGET_BUCKETS,
  type Inspection,
  type RecordAnswer,
  type SharedStateSettings,
  type StateStore,
  stateTtlMs,
  type Transition,
  type Verdict,
  WINDOW_BUCKETS,
} from './state-store.js'

// One hash per target for the breaker (state, until, probes, and the window's `ok:<bucket>` and
// `fail:<bucket>` counters), one string for the probe lease, one hash for the budget (`c:<bucket>` calls,
// `r:<bucket>` retries). All three carry a TTL; all three share a hash tag, so a cluster keeps them together.

const NOW_LUA = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`

/**
 * KEYS: breaker, lease, budget. ARGV: budget %, budget minimum, state TTL ms, then for each admission asked
 * for: retry (0|1), lease ms, token. Decides them one after another, as separate calls would; answers one
 * {verdict, value, transition, probing} per admission (probing: 1 when refused because another call holds the
 * half-open probe lease).
 */
const ADMIT_LUA = `${NOW_LUA}
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
local bucket = math.floor(now / ${BUDGET_BUCKET_MS})
local oldest = bucket - ${BUDGET_BUCKETS - 1}
local function admit(retry, lease_ms, token)
  local transition = ''
  if state == 'open' then
    local reopen = tonumber(redis.call('HGET', KEYS[1], 'until')) or 0
    if now < reopen then return {'open', reopen - now, '', 0} end
    redis.call('HSET', KEYS[1], 'state', 'half-open', 'probes', 0)
    redis.call('PEXPIRE', KEYS[1], ARGV[3])
    state = 'half-open'
    transition = 'open>half-open'
  end
  if retry == '1' then
    local calls, retries = 0, 0
    local fields = redis.call('HGETALL', KEYS[3])
    for i = 1, #fields, 2 do
      local kind, n = string.match(fields[i], '^(%a):(%d+)$')
      if kind and tonumber(n) >= oldest then
        if kind == 'c' then calls = calls + tonumber(fields[i + 1]) else retries = retries + tonumber(fields[i + 1]) end
      end
    end
    if retries >= math.max(tonumber(ARGV[2]), math.floor(calls * tonumber(ARGV[1]) / 100)) then
      return {'budget', 0, transition}
    end
  end
  local probe = 0
  if state == 'half-open' then
    if not redis.call('SET', KEYS[2], token, 'NX', 'PX', lease_ms) then
      return {'open', math.max(redis.call('PTTL', KEYS[2]), 1), transition, 1}
    end
    probe = 1
  end
  local field = (retry == '1' and 'r:' or 'c:') .. bucket
  if redis.call('HINCRBY', KEYS[3], field, 1) == 1 then
    local fields = redis.call('HKEYS', KEYS[3])
    for _, name in ipairs(fields) do
      local n = tonumber(string.match(name, ':(%d+)$'))
      if n and n < oldest then redis.call('HDEL', KEYS[3], name) end
    end
  end
  redis.call('PEXPIRE', KEYS[3], ${2 * BUDGET_BUCKET_MS * BUDGET_BUCKETS})
  return {'admitted', probe, transition}
end
local answers = {}
for i = 4, #ARGV, 3 do answers[#answers + 1] = admit(ARGV[i], ARGV[i + 1], ARGV[i + 2]) end
return answers`

/**
 * KEYS: breaker, lease. ARGV: failure %, minimum calls, window ms, open ms, probes to close, state TTL ms, then
 * for each attempt: verdict, probe token or ''. Records them one after another, as separate calls would;
 * answers one {state, transition} per attempt.
 */
const RECORD_LUA = `${NOW_LUA}
local function open(from)
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'state', 'open', 'until', now + tonumber(ARGV[4]))
  redis.call('PEXPIRE', KEYS[1], ARGV[6])
  return {'open', from .. '>open'}
end
local function record(verdict, token)
  local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
  if token ~= '' then
    if redis.call('GET', KEYS[2]) == token then redis.call('DEL', KEYS[2]) end
    if state ~= 'half-open' or verdict == 'void' then return {state, ''} end
    if verdict == 'failure' then return open('half-open') end
    if redis.call('HINCRBY', KEYS[1], 'probes', 1) >= tonumber(ARGV[5]) then
      redis.call('DEL', KEYS[1])
      return {'closed', 'half-open>closed'}
    end
    redis.call('PEXPIRE', KEYS[1], ARGV[6])
    return {'half-open', ''}
  end
  if state ~= 'closed' or verdict == 'void' then return {state, ''} end
  local bucket = math.floor(now / math.max(1, math.floor(tonumber(ARGV[3]) / ${WINDOW_BUCKETS})))
  local oldest = bucket - ${WINDOW_BUCKETS - 1}
  redis.call('HINCRBY', KEYS[1], (verdict == 'success' and 'ok:' or 'fail:') .. bucket, 1)
  local calls, failures = 0, 0
  local fields = redis.call('HGETALL', KEYS[1])
  for i = 1, #fields, 2 do
    local kind, n = string.match(fields[i], '^(%a+):(%d+)$')
    if kind then
      if tonumber(n) < oldest then
        redis.call('HDEL', KEYS[1], fields[i])
      else
        calls = calls + tonumber(fields[i + 1])
        if kind == 'fail' then failures = failures + tonumber(fields[i + 1]) end
      end
    end
  end
  if calls >= tonumber(ARGV[2]) and failures * 100 >= tonumber(ARGV[1]) * calls then return open('closed') end
  redis.call('PEXPIRE', KEYS[1], ARGV[6])
  return {'closed', ''}
end
local answers = {}
for i = 7, #ARGV, 2 do answers[#answers + 1] = record(ARGV[i], ARGV[i + 1]) end
return answers`

/** KEYS: breaker. ARGV: window ms. Read-only. */
const INSPECT_LUA = `${NOW_LUA}
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
local retryAfter = 0
if state == 'open' then
  retryAfter = (tonumber(redis.call('HGET', KEYS[1], 'until')) or 0) - now
  if retryAfter <= 0 then state = 'half-open'; retryAfter = 0 end
end
local oldest = math.floor(now / math.max(1, math.floor(tonumber(ARGV[1]) / ${WINDOW_BUCKETS}))) - ${WINDOW_BUCKETS - 1}
local calls, failures = 0, 0
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  local kind, n = string.match(fields[i], '^(%a+):(%d+)$')
  if kind and tonumber(n) >= oldest then
    calls = calls + tonumber(fields[i + 1])
    if kind == 'fail' then failures = failures + tonumber(fields[i + 1]) end
  end
end
return {state, retryAfter, calls, failures, tonumber(redis.call('HGET', KEYS[1], 'probes')) or 0}`

/** A Lua script run by its SHA1, sent in full only when Redis does not know it yet. */
class LuaScript {
  readonly #sha: string
  constructor(readonly source: string) {
    this.#sha = createHash('sha1').update(source).digest('hex')
  }

  async run(redis: Redis, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown[]> {
    let reply: unknown
    try {
      reply = await redis.evalsha(this.#sha, keys.length, ...keys, ...args)
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err
      reply = await redis.eval(this.source, keys.length, ...keys, ...args)
    }
    if (!Array.isArray(reply)) throw new Error('unexpected reply from an outbound state script')
    return reply
  }
}

const admitScript = new LuaScript(ADMIT_LUA)
const recordScript = new LuaScript(RECORD_LUA)
const inspectScript = new LuaScript(INSPECT_LUA)

function breakerState(value: unknown): BreakerState {
  if (value === 'closed' || value === 'open' || value === 'half-open') return value
  throw new Error(`unexpected breaker state ${String(value)}`)
}

function transition(value: unknown): Transition | undefined {
  if (typeof value !== 'string' || value === '') return undefined
  const [from, to] = value.split('>')
  return { from: breakerState(from), to: breakerState(to) }
}

/** Admissions or records one script call decides at most. */
const MAX_BATCH = 200

/**
 * Per key, the calls that arrive while a script for that key runs wait for it, then go together in the next
 * call (a group commit per target): with many attempts in flight to one target, the breaker costs a round trip
 * per batch, not two per attempt. The script decides them one after another, exactly as separate calls would.
 */
class KeyedBatches<Request, Answer> {
  readonly #committers = new Map<string, GroupCommitter<Request, Answer>>()

  constructor(private readonly run: (key: string, batch: Request[]) => Promise<Answer[]>) {}

  async submit(key: string, request: Request): Promise<Answer> {
    let committer = this.#committers.get(key)
    if (committer === undefined) {
      committer = new GroupCommitter((batch) => this.run(key, batch), {
        concurrency: 1,
        maxWeight: MAX_BATCH,
        weight: () => 1,
      })
      this.#committers.set(key, committer)
    }
    try {
      return await committer.submit(request)
    } finally {
      // An idle target's committer goes, so the map holds only targets being called.
      if (committer.queued === 0 && committer.writing === 0) this.#committers.delete(key)
    }
  }
}

/** The answers in a script's reply, one per admission or record asked for. */
function answers(reply: unknown[], expected: number): unknown[][] {
  if (reply.length !== expected || !reply.every(Array.isArray))
    throw new Error('unexpected reply from an outbound state script')
  return reply as unknown[][]
}

export class RedisStore implements StateStore {
  readonly #admissions: KeyedBatches<AdmitRequest, AdmitAnswer>
  readonly #records: KeyedBatches<{ verdict: Verdict; probeToken: string | undefined }, RecordAnswer>

  constructor(
    private readonly redis: Redis,
    private readonly settings: SharedStateSettings,
  ) {
    this.#admissions = new KeyedBatches((key, batch) => this.#admit(key, batch))
    this.#records = new KeyedBatches((key, batch) => this.#record(key, batch))
  }

  admit(key: string, request: AdmitRequest): Promise<AdmitAnswer> {
    return this.#admissions.submit(key, request)
  }

  record(key: string, verdict: Verdict, probeToken: string | undefined): Promise<RecordAnswer> {
    return this.#records.submit(key, { verdict, probeToken })
  }

  async #admit(key: string, batch: readonly AdmitRequest[]): Promise<AdmitAnswer[]> {
    const s = this.settings
    const reply = await admitScript.run(
      this.redis,
      [`${key}:breaker`, `${key}:probe`, `${key}:budget`],
      [
        s.retryBudgetPercent,
        s.retryBudgetMinPerMinute,
        stateTtlMs(s),
        ...batch.flatMap((request) => [request.retry ? 1 : 0, request.leaseMs, request.token]),
      ],
    )
    return answers(reply, batch.length).map(([verdict, value, change, probing]): AdmitAnswer => {
      const made = transition(change)
      if (verdict === 'admitted') return { verdict, probe: value === 1, transition: made }
      if (verdict === 'open')
        return { verdict, retryAfterMs: Number(value), probing: probing === 1, transition: made }
      if (verdict === 'budget') return { verdict, transition: made }
      throw new Error(`unexpected admission ${String(verdict)}`)
    })
  }

  async #record(
    key: string,
    batch: readonly { verdict: Verdict; probeToken: string | undefined }[],
  ): Promise<RecordAnswer[]> {
    const s = this.settings
    const reply = await recordScript.run(
      this.redis,
      [`${key}:breaker`, `${key}:probe`],
      [
        s.breakerFailurePercent,
        s.breakerMinimumCalls,
        s.breakerWindowMs,
        s.breakerOpenMs,
        s.breakerCloseAfterProbes,
        stateTtlMs(s),
        ...batch.flatMap(({ verdict, probeToken }) => [verdict, probeToken ?? '']),
      ],
    )
    return answers(reply, batch.length).map(([state, change]) => ({
      state: breakerState(state),
      transition: transition(change),
    }))
  }

  async inspect(key: string): Promise<Inspection> {
    const [state, retryAfterMs, calls, failures, probes] = await inspectScript.run(
      this.redis,
      [`${key}:breaker`],
      [this.settings.breakerWindowMs],
    )
    return {
      state: breakerState(state),
      retryAfterMs: Number(retryAfterMs),
      calls: Number(calls),
      failures: Number(failures),
      probes: Number(probes),
    }
  }
}
