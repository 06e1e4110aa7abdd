// What every command group of the CLI is made of: the shape of a command, the context it runs in, the usage
// error, and the helpers that check arguments and lay out answers. Each group (tenants.ts, api-keys.ts, ...)
// exports a CommandGroup; index.ts parses the command line and dispatches to it.
import type { Static, TSchema } from '@fastify/type-provider-typebox'
import type { Logger } from 'pino'
import type { Config } from '../config.js'
import { compileBodyValidator, fieldName, schemaIssues } from '../http/validation.js'
import type { ApiKeysService } from '../modules/api-keys/service.js'
import type { DeviceConfigService } from '../modules/device-config/service.js'
import type { SourcesService } from '../modules/sources/service.js'
import type { TenantsService } from '../modules/tenants/service.js'
import type { DatabaseHandle } from '../platform/database.js'
import type { RedisHandle } from '../platform/redis.js'
import type { Secrets } from '../platform/secrets.js'

/** Where the CLI reads its settings and writes its answers; the process's own, or a test's. */
export interface CliIo {
  readonly env: Readonly<Record<string, string | undefined>>
  stdout(text: string): void
  stderr(text: string): void
}

/** Bad command-line usage: answered with the usage text and exit code 2. */
export class UsageError extends Error {}

/** What a command answers: printed as `text`, or as `json` with --json. */
export interface Output {
  /** What --json prints: the same shapes the admin API answers with. */
  readonly json: unknown
  readonly text: string
}

/** The services the commands run through, as the server's routes do. */
export interface CliServices {
  readonly tenants: TenantsService
  readonly apiKeys: ApiKeysService
  readonly sources: SourcesService
  readonly deviceConfig: DeviceConfigService
}

/** What an action gets once the arguments were accepted: the open database, its keys, the services. */
export interface CliContext {
  readonly database: DatabaseHandle
  readonly config: Config
  /** Writes to stderr, so that stdout holds only the answer. */
  readonly log: Logger
  readonly secrets: Secrets
  readonly services: CliServices
  /** With REDIS_URL; not connected until a command reaches it (to publish a change, read a breaker). */
  readonly redis: RedisHandle | undefined
}

export type Options = Readonly<Record<string, string | undefined>>
export type Action = (context: CliContext) => Promise<Output>

export interface Command {
  readonly args: readonly string[]
  /** Options with a value, by name, with the placeholder the usage shows. */
  readonly options?: Readonly<Record<string, string>>
  readonly summary: string
  /** Checks the arguments (throwing UsageError) and returns what to do with the database. */
  prepare(args: readonly string[], options: Options): Action
}

/** The commands of one group by name (`tenant:create`), in the order the usage lists them. */
export type CommandGroup = Readonly<Record<string, Command>>

/** The value, typed, when the admin API's schema accepts it. */
export function validated<S extends TSchema>(schema: S, value: unknown): Static<S> {
  const validate = compileBodyValidator(schema)
  if (validate(value)) return value as Static<S>
  const [issue] = schemaIssues(validate.errors ?? [])
  const field = (issue && fieldName(issue.pointer)) || 'argument'
  throw new UsageError(`invalid ${field}: ${issue?.message ?? 'is invalid'}`)
}

/** Rows as aligned columns under a header. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  if (rows.length === 0) return '(none)\n'
  const all = [header, ...rows]
  const widths = header.map((_, column) => Math.max(...all.map((row) => row[column]?.length ?? 0)))
  const lines = all.map((row) => row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  '))
  return lines.map((line) => `${line.trimEnd()}\n`).join('')
}
