import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const contracts = fileURLToPath(new URL('../contracts/src/', import.meta.url))

export default defineConfig({
  resolve: {
    // The contracts package's TypeScript source, as tsx finds it through tsconfig.json's paths, so tests never
    // run against a stale build of it.
    alias: [{ find: /^@pos\/contracts\/(.+)$/, replacement: `${contracts}$1.ts` }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests start servers and databases; each file owns its own database.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Records every answer of the API and checks it against the OpenAPI document at the end of the run.
    globalSetup: ['test/global-setup.ts'],
  },
})
