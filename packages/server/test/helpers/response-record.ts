// Records what the routes of the test apps answer (method, route, status, content type, body) so that the
// global teardown (test/global-setup.ts) can check every answer against the OpenAPI document: a status or a
// body the document does not describe fails the run, so the document cannot drift from the code.
//
// Each test process appends JSON lines to a file of its own in the directory the global setup provides, and
// keeps a few answers per route, status and content type, which bounds the cost to a few writes per file.
import { appendFileSync, existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, inject } from 'vitest'
import type { App } from '../../src/app.js'

declare module 'vitest' {
  export interface ProvidedContext {
    /** Where test processes record responses; set by test/global-setup.ts. */
    responseRecordDir: string
  }
}

export interface RecordedResponse {
  readonly method: string
  readonly route: string
  readonly status: number
  readonly contentType: string | undefined
  /** The body as sent, unless it was a stream or larger than MAX_BODY. */
  readonly body?: string
  readonly test: string | undefined
  readonly file: string | undefined
}

const SAMPLES_PER_KIND = 8
const MAX_BODY = 256 * 1024
const samples = new Map<string, number>()

/** The file this process records into; undefined when no global setup asked for recording. */
function recordFile(): string | undefined {
  const dir = inject('responseRecordDir')
  return dir === undefined ? undefined : join(dir, `responses-${process.pid}.jsonl`)
}

/** Writes the app's OpenAPI document beside the records once per process: the teardown checks against it. */
function saveDocument(app: App, dir: string): void {
  const file = join(dir, `openapi-${process.pid}.json`)
  if (!existsSync(file)) writeFileSync(file, JSON.stringify(app.swagger()))
}

/**
 * Records the answers of `app`'s documented routes. Routes a test adds for itself (`skipRoutes`), hidden ones
 * and requests that matched no route are left out: none of them is part of the API.
 */
export function recordResponses(app: App, skipRoutes: ReadonlySet<string>): void {
  const file = recordFile()
  if (file === undefined) return
  app.addHook('onReady', async () => saveDocument(app, join(file, '..')))
  app.addHook('onSend', async (request, reply, payload) => {
    const { url, schema } = request.routeOptions
    if (url === undefined || schema?.hide || skipRoutes.has(url)) return payload
    const contentType = reply.getHeader('content-type')?.toString()
    const kind = `${request.method} ${url} ${reply.statusCode} ${contentType}`
    const seen = samples.get(kind) ?? 0
    if (seen >= SAMPLES_PER_KIND) return payload
    samples.set(kind, seen + 1)
    // Node sends no body with a 204 or a 304, whatever the serializer made of the handler's value.
    const bodiless = reply.statusCode === 204 || reply.statusCode === 304
    const body = bodiless
      ? undefined
      : typeof payload === 'string'
        ? payload
        : Buffer.isBuffer(payload)
          ? payload.toString('utf8')
          : undefined
    const record: RecordedResponse = {
      method: request.method,
      route: url,
      status: reply.statusCode,
      contentType,
      ...(body !== undefined && body.length <= MAX_BODY ? { body } : {}),
      test: expect.getState().currentTestName,
      file: expect.getState().testPath,
    }
    appendFileSync(file, `${JSON.stringify(record)}\n`)
    return payload
  })
}
