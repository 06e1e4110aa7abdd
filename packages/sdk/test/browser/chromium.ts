// Serves the browser adapters to Debian's Chromium for the tests: esbuild bundles test/browser/page/runner.ts
// (the adapters, the contracts and the in-page scenarios) into one module, a node:http server on 127.0.0.1
// serves it (a loopback origin is a secure context, so WebCrypto and IndexedDB behave as on https), and
// playwright-core drives the browser installed by the system, never one it downloads.
import { accessSync, constants } from 'node:fs'
import { createServer, type Server } from 'node:http'
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

export function chromiumInstalled(): boolean {
  try {
    accessSync(chromiumPath, constants.X_OK)
    return true
  } catch {
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

function serve(script: string): Promise<Server> {
  const html =
    '<!doctype html><meta charset="utf-8"><title>sdk</title><script type="module" src="/runner.js"></script>'
  const server = createServer((req, res) => {
    if (req.url === '/runner.js') {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-store' })
      res.end(script)
    } else if (req.url === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
      res.end(html)
    } else {
      res.writeHead(404).end()
    }
  })
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve(server))
  })
}

/** Launches Chromium on a page of the bundled runner; `window.posSdkPage` is ready when this resolves. */
export async function openRunnerPage(): Promise<ServedPage> {
  const server = await serve(await bundleRunner())
  let browser: Browser | undefined
  try {
    browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: chromiumArgs })
    const page = await browser.newPage()
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
    await page.goto(url)
    await page.waitForFunction(() => 'posSdkPage' in globalThis)
    const opened = browser
    return {
      page,
      url,
      async close() {
        await opened.close()
        await new Promise<void>((resolve) => server.close(() => resolve()))
      },
    }
  } catch (error) {
    await browser?.close()
    server.close()
    throw error
  }
}
