// Serves the browser adapters to Debian's Chromium for the tests: esbuild bundles test/browser/page/runner.ts
// (the adapters, the contracts and the in-page scenarios) into one module, a node:http server on 127.0.0.1
// serves it (a loopback origin is a secure context, so WebCrypto and IndexedDB behave as on https), and
// playwright-core drives the browser installed by the system, never one it downloads.
import { spawn } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { createServer, type RequestListener, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { type Browser, chromium, type Page } from 'playwright-core'

export const chromiumPath = '/usr/bin/chromium'

// Without the background-networking switches Chromium keeps dialling out from a machine with no network.
const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

/**
 * Whether the browser tests can run: true when Chromium is installed. Without it they are skipped with a
 * message, unless CI_REQUIRE_TOOLS=1 (as CI sets it), where its absence fails the run.
 */
export function chromiumAvailable(): boolean {
  try {
    accessSync(chromiumPath, constants.X_OK)
    return true
  } catch {
    const message = `Chromium is not installed at ${chromiumPath} (apt-get install chromium): the browser adapter tests cannot run`
    if (process.env.CI_REQUIRE_TOOLS === '1') throw new Error(message)
    console.warn(`skipped: ${message}`)
    return false
  }
}

export interface ServedPage {
  readonly page: Page
  readonly url: string
  close(): Promise<void>
}

async function bundleRunner(): Promise<string> {
  const result = await build({
    entryPoints: [fileURLToPath(new URL('./page/runner.ts', import.meta.url))],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'chrome120',
    write: false,
    logLevel: 'silent',
  })
  const [output] = result.outputFiles
  if (output === undefined) throw new Error('esbuild produced no output')
  return output.text
}

function serve(script: string, other?: RequestListener): Promise<Server> {
  const html =
    '<!doctype html><meta charset="utf-8"><title>sdk</title><script type="module" src="/runner.js"></script>'
  const server = createServer((req, res) => {
    if (req.url === '/runner.js') {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-store' })
      res.end(script)
    } else if (req.url === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
      res.end(html)
    } else if (other !== undefined) {
      other(req, res)
    } else {
      res.writeHead(404).end()
    }
  })
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve(server))
  })
}

/**
 * The bundled runner, served on 127.0.0.1 until close(). Any other request goes to `other` when given (a test
 * that proxies the API there keeps the page and the server on one origin), else it is a 404.
 */
export async function serveRunner(other?: RequestListener): Promise<{ url: string; close(): Promise<void> }> {
  const server = await serve(await bundleRunner(), other)
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

async function openRunner(browser: Browser, url: string): Promise<Page> {
  const context = browser.contexts()[0] ?? (await browser.newContext())
  const page = await context.newPage()
  await page.goto(url)
  await page.waitForFunction(() => 'posSdkPage' in globalThis)
  return page
}

/** Launches Chromium on a page of the bundled runner; `window.posSdkPage` is ready when this resolves. */
export async function openRunnerPage(other?: RequestListener): Promise<ServedPage> {
  const runner = await serveRunner(other)
  let browser: Browser | undefined
  try {
    browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: chromiumArgs })
    const page = await openRunner(browser, runner.url)
    const opened = browser
    return {
      page,
      url: runner.url,
      async close() {
        await opened.close()
        await runner.close()
      },
    }
  } catch (error) {
    await browser?.close()
    await runner.close()
    throw error
  }
}

export interface KillableChromium {
  readonly page: Page
  /** SIGKILL to Chromium's whole process group, as a power cut or the OS killing the app would end it. */
  kill(): Promise<void>
}

/**
 * Starts Chromium as a process of this test (so the test can kill it) on the profile in `userDataDir`,
 * connects to it over the DevTools protocol and opens the runner at `url`.
 */
export async function startKillableChromium(userDataDir: string, url: string): Promise<KillableChromium> {
  const child = spawn(
    chromiumPath,
    [
      ...chromiumArgs,
      '--headless',
      '--remote-debugging-port=0',
      `--user-data-dir=${userDataDir}`,
      'about:blank',
    ],
    // Its own process group, so kill() reaches the renderer and storage processes too.
    { detached: true, stdio: ['ignore', 'ignore', 'pipe'] },
  )
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const pid = child.pid
  if (pid === undefined) throw new Error('Chromium did not start')
  const kill = async () => {
    try {
      process.kill(-pid, 'SIGKILL')
    } catch {
      // Already gone.
    }
    await exited
  }
  try {
    const endpoint = await new Promise<string>((resolve, reject) => {
      let seen = ''
      child.stderr.on('data', (chunk: Buffer) => {
        seen += chunk.toString()
        const match = /DevTools listening on (ws:\/\/\S+)/.exec(seen)
        if (match?.[1] !== undefined) resolve(match[1])
      })
      child.once('exit', (code) =>
        reject(new Error(`Chromium exited (${code}) before it listened: ${seen.slice(-500)}`)),
      )
    })
    const browser = await chromium.connectOverCDP(endpoint)
    return { page: await openRunner(browser, url), kill }
  } catch (error) {
    await kill()
    throw error
  }
}
