// `npm run cli -- <command>`: tenants, API keys, sources, device configuration and stored secrets from the command line. This file
// parses the command line and dispatches to the command groups beside it (tenants.ts, api-keys.ts, sources.ts,
// secrets.ts). They talk to the database the server would use (DATABASE_URL, or the embedded one under
// DATA_DIR) through the services, not over HTTP, so no admin token is needed. With REDIS_URL set, a change is
// published as a cache invalidation, so running servers honour it at once (otherwise within their cache TTL). Arguments are checked by the admin API's own schemas
// before the database is opened. Exit codes: 0 done, 1 refused or failed (unknown id, duplicate name, database
// error), 2 bad usage.
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { loadConfig } from '../config.js'
import { ApiKeysService } from '../modules/api-keys/service.js'
import { DeviceConfigService } from '../modules/device-config/service.js'
import { SourcesService } from '../modules/sources/service.js'
import { TenantsService } from '../modules/tenants/service.js'
import { type DatabaseHandle, DataDirInUseError, openDatabase } from '../platform/database.js'
import { openInvalidation } from '../platform/invalidation.js'
import { createLogger } from '../platform/logger.js'
import { ProblemError } from '../platform/problems.js'
import { openRedis } from '../platform/redis.js'
import { loadSecrets } from '../platform/secrets.js'
import { apiKeyCommands } from './api-keys.js'
import { type Action, type CliIo, type Command, type CommandGroup, UsageError } from './command.js'
import { connectorCommands } from './connectors.js'
import { deviceConfigCommands } from './device-config.js'
import { secretsCommands } from './secrets.js'
import { sourceCommands } from './sources.js'
import { tenantCommands } from './tenants.js'
import { webhookCommands } from './webhooks.js'

export type { CliIo } from './command.js'

// Every command group, one line each, in the order the usage lists them. A new group is a file beside this
// one exporting a CommandGroup, and one line here.
const commands = commandTable({
  tenants: tenantCommands,
  apiKeys: apiKeyCommands,
  sources: sourceCommands,
  deviceConfig: deviceConfigCommands,
  secrets: secretsCommands,
  webhooks: webhookCommands,
  connectors: connectorCommands,
})

/** Every command by name; two groups claiming one name is a programming error, caught at load. */
function commandTable(groups: Readonly<Record<string, CommandGroup>>): ReadonlyMap<string, Command> {
  const table = new Map<string, Command>()
  const owner = new Map<string, string>()
  for (const [group, groupCommands] of Object.entries(groups)) {
    for (const [name, command] of Object.entries(groupCommands)) {
      const other = owner.get(name)
      if (other !== undefined) throw new Error(`CLI command ${name} is defined by both ${other} and ${group}`)
      owner.set(name, group)
      table.set(name, command)
    }
  }
  return table
}

function usage(): string {
  const lines = [...commands].flatMap(([name, command]) => {
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
    'Uses DATABASE_URL, or the embedded database under DATA_DIR (stop the server first: it holds that database;',
    'or use the admin API while it runs).',
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
  const command = name === undefined ? undefined : commands.get(name)
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

/** What to do when the server holds the embedded database: the CLI cannot open it beside the server. */
function dataDirInUse(err: DataDirInUseError, port: number): string {
  return [
    `error: the embedded database in ${err.dataDir} is in use by process ${err.ownerPid} (the server, most`,
    'likely), and only one process may open it at a time. Either stop the server (Ctrl-C) and run this',
    'command again, or do the same through the admin API while the server runs, with the admin token it',
    'printed at start, e.g. a new API key for a tenant:',
    '',
    `  curl -X POST http://localhost:${port}/v1/admin/tenants/<tenantId>/api-keys -H 'Authorization: Bearer <admin token>' \\`,
    '    -H \'Content-Type: application/json\' -d \'{"name":"demo"}\'',
    '',
  ].join('\n')
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
  let database: DatabaseHandle
  try {
    database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, log })
  } catch (err) {
    if (!(err instanceof DataDirInUseError)) throw err
    io.stderr(dataDirInUse(err, config.port))
    return 1
  }
  // Connected only when a change is published or webhook:show reads a circuit breaker; a listing never
  // touches Redis.
  const redis = config.redisUrl === undefined ? undefined : openRedis(config.redisUrl, log)
  const invalidation = openInvalidation({ redis, keyPrefix: config.redisKeyPrefix, log, listen: false })
  const tenants = new TenantsService(database.db, invalidation)
  const sources = new SourcesService(database.db, secrets, tenants, invalidation)
  const services = {
    tenants,
    apiKeys: new ApiKeysService(database.db, tenants, invalidation),
    sources,
    deviceConfig: new DeviceConfigService(database.db, tenants, sources, invalidation),
  }
  try {
    const output = await invocation.action({ database, config, log, secrets, services, redis })
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
