// Breaker and budget state in Redis, changed only by the Lua scripts below so that each decision is atomic for
// the whole fleet. The scripts read Redis's TIME: replicas with skewed clocks still agree on windows and
// cool-downs, and the scripts answer durations ("retry after N ms"), never instants.
import { createHash } from 'node:crypto'
import type { Redis } from 'ioredis'
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

/** KEYS: breaker, lease, budget. ARGV: retry (0|1), lease ms, token, budget %, budget minimum, state TTL ms. */
const ADMIT_LUA = `${NOW_LUA}
local transition = ''
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
if state == 'open' then
  local reopen = tonumber(redis.call('HGET', KEYS[1], 'until')) or 0
  if now < reopen then return {'open', reopen - now, ''} end
  redis.call('HSET', KEYS[1], 'state', 'half-open', 'probes', 0)
  redis.call('PEXPIRE', KEYS[1], ARGV[6])
  state = 'half-open'
  transition = 'open>half-open'
end
local bucket = math.floor(now / ${BUDGET_BUCKET_MS})
local oldest = bucket - ${BUDGET_BUCKETS - 1}
if ARGV[1] == '1' then
  local calls, retries = 0, 0
  local fields = redis.call('HGETALL', KEYS[3])
  for i = 1, #fields, 2 do
    local kind, n = string.match(fields[i], '^(%a):(%d+)$')
    if kind and tonumber(n) >= oldest then
      if kind == 'c' then calls = calls + tonumber(fields[i + 1]) else retries = retries + tonumber(fields[i + 1]) end
    end
  end
  if retries >= math.max(tonumber(ARGV[5]), math.floor(calls * tonumber(ARGV[4]) / 100)) then
    return {'budget', 0, transition}
  end
end
local probe = 0
if state == 'half-open' then
  if not redis.call('SET', KEYS[2], ARGV[3], 'NX', 'PX', ARGV[2]) then
    return {'open', math.max(redis.call('PTTL', KEYS[2]), 1), transition}
  end
  probe = 1
end
local field = (ARGV[1] == '1' and 'r:' or 'c:') .. bucket
if redis.call('HINCRBY', KEYS[3], field, 1) == 1 then
  local fields = redis.call('HKEYS', KEYS[3])
  for _, name in ipairs(fields) do
    local n = tonumber(string.match(name, ':(%d+)$'))
    if n and n < oldest then redis.call('HDEL', KEYS[3], name) end
  end
end
redis.call('PEXPIRE', KEYS[3], ${2 * BUDGET_BUCKET_MS * BUDGET_BUCKETS})
return {'admitted', probe, transition}`

/** KEYS: breaker, lease. ARGV: verdict, probe token or '', failure %, minimum calls, window ms, open ms,
 * probes to close, state TTL ms. */
const RECORD_LUA = `${NOW_LUA}
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
local function open(from)
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'state', 'open', 'until', now + tonumber(ARGV[6]))
  redis.call('PEXPIRE', KEYS[1], ARGV[8])
  return {'open', from .. '>open'}
end
if ARGV[2] ~= '' then
  if redis.call('GET', KEYS[2]) == ARGV[2] then redis.call('DEL', KEYS[2]) end
  if state ~= 'half-open' or ARGV[1] == 'void' then return {state, ''} end
  if ARGV[1] == 'failure' then return open('half-open') end
  if redis.call('HINCRBY', KEYS[1], 'probes', 1) >= tonumber(ARGV[7]) then
    redis.call('DEL', KEYS[1])
    return {'closed', 'half-open>closed'}
  end
  redis.call('PEXPIRE', KEYS[1], ARGV[8])
  return {'half-open', ''}
end
if state ~= 'closed' or ARGV[1] == 'void' then return {state, ''} end
local bucket = math.floor(now / math.max(1, math.floor(tonumber(ARGV[5]) / ${WINDOW_BUCKETS})))
local oldest = bucket - ${WINDOW_BUCKETS - 1}
redis.call('HINCRBY', KEYS[1], (ARGV[1] == 'success' and 'ok:' or 'fail:') .. bucket, 1)
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
if calls >= tonumber(ARGV[4]) and failures * 100 >= tonumber(ARGV[3]) * calls then return open('closed') end
redis.call('PEXPIRE', KEYS[1], ARGV[8])
return {'closed', ''}`

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

export class RedisStore implements StateStore {
  constructor(
    private readonly redis: Redis,
    private readonly settings: SharedStateSettings,
  ) {}

  async admit(key: string, request: AdmitRequest): Promise<AdmitAnswer> {
    const s = this.settings
    const [verdict, value, change] = await admitScript.run(
      this.redis,
      [`${key}:breaker`, `${key}:probe`, `${key}:budget`],
      [
        request.retry ? 1 : 0,
        request.leaseMs,
        request.token,
        s.retryBudgetPercent,
        s.retryBudgetMinPerMinute,
        stateTtlMs(s),
      ],
    )
    const made = transition(change)
    if (verdict === 'admitted') return { verdict, probe: value === 1, transition: made }
    if (verdict === 'open') return { verdict, retryAfterMs: Number(value), transition: made }
    if (verdict === 'budget') return { verdict, transition: made }
    throw new Error(`unexpected admission ${String(verdict)}`)
  }

  async record(key: string, verdict: Verdict, probeToken: string | undefined): Promise<RecordAnswer> {
    const s = this.settings
    const [state, change] = await recordScript.run(
      this.redis,
      [`${key}:breaker`, `${key}:probe`],
      [
        verdict,
        probeToken ?? '',
        s.breakerFailurePercent,
        s.breakerMinimumCalls,
        s.breakerWindowMs,
        s.breakerOpenMs,
        s.breakerCloseAfterProbes,
        stateTtlMs(s),
      ],
    )
    return { state: breakerState(state), transition: transition(change) }
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
