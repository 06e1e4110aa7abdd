// `npm run cli -- <command>`: tenants, API keys and sources from the command line. It talks to the database the
// server would use (DATABASE_URL, or the embedded one under DATA_DIR) through the TenantsService, not over
// HTTP, so it needs no admin token. With REDIS_URL set, a change is published as a cache invalidation, so
// running servers honour it at once (otherwise within their cache TTL). Arguments are checked by the admin
// API's own schemas before the database is opened. Exit codes: 0 done, 1 refused or failed (unknown id,
// duplicate name, database error), 2 bad usage.
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import type { Static, TSchema } from '@fastify/type-provider-typebox'
import { loadConfig } from '../config.js'
import { SCOPES, SOURCE_KINDS } from '../db/schema.js'
import { compileBodyValidator } from '../http/validation.js'
import {
  apiKeyView,
  CreateApiKeyBody,
  CreateSourceBody,
  CreateTenantBody,
  createdApiKeyView,
  RateLimitBody,
  sourceView,
  tenantView,
} from '../modules/tenants/schemas.js'
import { TenantsService } from '../modules/tenants/service.js'
import { type DatabaseHandle, openDatabase } from '../platform/database.js'
import { openInvalidation } from '../platform/invalidation.js'
import { createLogger } from '../platform/logger.js'
import { ProblemError } from '../platform/problems.js'
import { openRedis } from '../platform/redis.js'
import { loadSecrets, type Secrets } from '../platform/secrets.js'
import { secretsCommands } from './secrets.js'

/** Where the CLI reads its settings and writes its answers; the process's own, or a test's. */
export interface CliIo {
  readonly env: Readonly<Record<string, string | undefined>>
  stdout(text: string): void
  stderr(text: string): void
}

/** Bad command-line usage: answered with the usage text and exit code 2. */
class UsageError extends Error {}

interface Output {
  /** What --json prints: the same shapes the admin API answers with. */
  readonly json: unknown
  readonly text: string
}

type Options = Readonly<Record<string, string | undefined>>
/** What a command that needs more than the tenants service gets. */
interface CliContext {
  readonly database: DatabaseHandle
  readonly secrets: Secrets
}
type Action = (tenants: TenantsService, context: CliContext) => Promise<Output>

interface Command {
  readonly args: readonly string[]
  /** Options with a value, by name, with the placeholder the usage shows. */
  readonly options?: Readonly<Record<string, string>>
  readonly summary: string
  /** Checks the arguments (throwing UsageError) and returns what to do with the database. */
  prepare(args: readonly string[], options: Options): Action
}

/** The value, typed, when the admin API's schema accepts it. */
function validated<S extends TSchema>(schema: S, value: unknown): Static<S> {
  const validate = compileBodyValidator(schema)
  if (validate(value)) return value as Static<S>
  const [issue] = validate.errors ?? []
  const field = issue?.instancePath.replace(/^\//, '') || 'argument'
  throw new UsageError(`invalid ${field}: ${issue?.message ?? 'is invalid'}`)
}

/** Rows as aligned columns under a header. */
function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  if (rows.length === 0) return '(none)\n'
  const all = [header, ...rows]
  const widths = header.map((_, column) => Math.max(...all.map((row) => row[column]?.length ?? 0)))
  const lines = all.map((row) => row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  '))
  return lines.map((line) => `${line.trimEnd()}\n`).join('')
}

const commands: Readonly<Record<string, Command>> = {
  'tenant:create': {
    args: ['name'],
    summary: 'Creates a tenant',
    prepare([name]) {
      const body = validated(CreateTenantBody, { name })
      return async (tenants) => {
        const tenant = tenantView(await tenants.createTenant(body.name))
        return { json: tenant, text: `Created tenant "${tenant.name}": ${tenant.id}\n` }
      }
    },
  },
  'tenant:list': {
    args: [],
    summary: 'Lists every tenant',
    prepare() {
      return async (tenants) => {
        const data = (await tenants.listTenants()).map(tenantView)
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
      return async (tenants) => {
        const tenant = tenantView(await tenants.setRateLimit(tenantId, policy))
        const limit = tenant.rateLimit
          ? `${tenant.rateLimit.max} requests per ${tenant.rateLimit.windowMs} ms per API key`
          : "the service's default"
        return { json: tenant, text: `Tenant "${tenant.name}" (${tenant.id}) is limited to ${limit}\n` }
      }
    },
  },
  'key:create': {
    args: ['tenantId', 'name'],
    options: { scopes: 'ingest,read' },
    summary: `Creates an API key; --scopes from ${SCOPES.join(',')} (default: all)`,
    prepare([tenantId = '', name], options) {
      const scopes = options.scopes?.split(',').map((scope) => scope.trim())
      const body = validated(CreateApiKeyBody, { name, ...(scopes && { scopes }) })
      return async (tenants) => {
        const key = createdApiKeyView(await tenants.createApiKey(tenantId, body))
        return {
          json: key,
          text:
            `Created API key "${key.name}" (${key.id}) with scopes ${key.scopes.join(', ')}:\n` +
            `${key.key}\n` +
            'The key is shown only now: it is not stored and cannot be shown again.\n',
        }
      }
    },
  },
  'key:list': {
    args: ['tenantId'],
    summary: "Lists a tenant's API keys",
    prepare([tenantId = '']) {
      return async (tenants) => {
        const data = (await tenants.listApiKeys(tenantId)).map(apiKeyView)
        const header = ['ID', 'NAME', 'PREFIX', 'SCOPES', 'CREATED', 'REVOKED']
        const rows = data.map((k) => [
          k.id,
          k.name,
          k.prefix,
          k.scopes.join(','),
          k.createdAt,
          k.revokedAt ?? '',
        ])
        return { json: { data }, text: table(header, rows) }
      }
    },
  },
  'key:revoke': {
    args: ['tenantId', 'keyId'],
    summary: 'Revokes an API key',
    prepare([tenantId = '', keyId = '']) {
      return async (tenants) => {
        const key = apiKeyView(await tenants.revokeApiKey(tenantId, keyId))
        return { json: key, text: `Revoked API key "${key.name}" (${key.id}) at ${key.revokedAt}\n` }
      }
    },
  },
  'source:create': {
    args: ['tenantId', 'name', 'kind'],
    options: { 'signing-secret': 'SECRET' },
    summary: `Creates a source of kind ${SOURCE_KINDS.join('|')}; signed with --signing-secret`,
    prepare([tenantId = '', name, kind], options) {
      const signingSecret = options['signing-secret']
      const body = validated(CreateSourceBody, {
        name,
        kind,
        ...(signingSecret !== undefined && { signingSecret }),
      })
      return async (tenants) => {
        const source = sourceView(await tenants.createSource(tenantId, body))
        const signed = source.signed ? 'signed' : 'unsigned'
        return {
          json: source,
          text: `Created ${signed} ${source.kind} source "${source.name}": ${source.id}\n`,
        }
      }
    },
  },
  'source:list': {
    args: ['tenantId'],
    summary: "Lists a tenant's sources",
    prepare([tenantId = '']) {
      return async (tenants) => {
        const data = (await tenants.listSources(tenantId)).map(sourceView)
        const rows = data.map((s) => [s.id, s.name, s.kind, s.signed ? 'yes' : 'no', s.createdAt])
        return { json: { data }, text: table(['ID', 'NAME', 'KIND', 'SIGNED', 'CREATED'], rows) }
      }
    },
  },
  'source:delete': {
    args: ['tenantId', 'sourceId'],
    summary: 'Deletes a source (the events it sent stay)',
    prepare([tenantId = '', sourceId = '']) {
      return async (tenants) => {
        await tenants.deleteSource(tenantId, sourceId)
        return { json: { deleted: sourceId }, text: `Deleted source ${sourceId}\n` }
      }
    },
  },
  ...secretsCommands,
}

function usage(): string {
  const lines = Object.entries(commands).flatMap(([name, command]) => {
    const args = command.args.map((arg) => `<${arg}>`)
    const options = Object.entries(command.options ?? {}).map(([option, value]) => `[--${option} ${value}]`)
    return [`  ${[name, ...args, ...options].join(' ')}`, `      ${command.summary}`]
  })
  return [
    'usage: npm run cli -- <command> [arguments] [--json]',
    '',
    'commands:',
    ...lines,
    '  help',
    '      Shows this text',
    '',
    'Uses DATABASE_URL and ENCRYPTION_KEY, or the embedded database and its key under DATA_DIR (stop the server',
    'first: it holds that database).',
    '--json prints the answer as the admin API would. No admin token is needed.',
    '',
  ].join('\n')
}

interface Invocation {
  readonly action: Action
  readonly json: boolean
}

/** The command line checked and understood, or 'help'; throws UsageError. */
function parseInvocation(argv: readonly string[]): Invocation | 'help' {
  const [name, ...rest] = argv
  if (name === 'help' || name === '--help' || name === '-h') return 'help'
  const command = name === undefined ? undefined : commands[name]
  if (command === undefined) {
    throw new UsageError(name === undefined ? 'no command given' : `unknown command ${name}`)
  }
  let parsed: ReturnType<typeof parseArgs>
  try {
    parsed = parseArgs({
      args: [...rest],
      allowPositionals: true,
      strict: true,
      options: {
        json: { type: 'boolean' },
        ...Object.fromEntries(
          Object.keys(command.options ?? {}).map((option) => [option, { type: 'string' as const }]),
        ),
      },
    })
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err))
  }
  if (parsed.positionals.length !== command.args.length) {
    throw new UsageError(`${name} takes ${command.args.map((arg) => `<${arg}>`).join(' ') || 'no arguments'}`)
  }
  const { json, ...values } = parsed.values
  const options = Object.fromEntries(Object.entries(values).map(([key, value]) => [key, String(value)]))
  return { action: command.prepare(parsed.positionals, options), json: json === true }
}

/** Runs one command line; resolves with the exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let invocation: Invocation | 'help'
  try {
    invocation = parseInvocation(argv)
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    io.stderr(`error: ${err.message}\n\n${usage()}`)
    return 2
  }
  if (invocation === 'help') {
    io.stdout(usage())
    return 0
  }
  // Only the database settings matter here; the admin token guards the HTTP API, which the CLI does not use.
  const config = loadConfig({ ...io.env, ADMIN_TOKEN: io.env.ADMIN_TOKEN ?? 'x'.repeat(16) })
  // Warnings go to stderr, so that stdout holds only the answer.
  const log = createLogger({ level: 'warn', destination: { write: (line: string) => io.stderr(line) } })
  const secrets = loadSecrets(config)
  const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, log })
  // Connected only when a change is published; a listing never touches Redis.
  const redis = config.redisUrl === undefined ? undefined : openRedis(config.redisUrl, log)
  const invalidation = openInvalidation({ redis, keyPrefix: config.redisKeyPrefix, log, listen: false })
  try {
    const output = await invocation.action(new TenantsService(database.db, secrets, invalidation), {
      database,
      secrets,
    })
    io.stdout(invocation.json ? `${JSON.stringify(output.json, null, 2)}\n` : output.text)
    return 0
  } catch (err) {
    if (!(err instanceof ProblemError)) throw err
    io.stderr(`error: ${err.message}\n`)
    return err.problemType === 'validation-failed' ? 2 : 1
  } finally {
    await Promise.all([database.close(), redis?.close()])
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const io: CliIo = {
    env: process.env,
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
  }
  runCli(process.argv.slice(2), io).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`)
      process.exit(1)
    },
  )
}
