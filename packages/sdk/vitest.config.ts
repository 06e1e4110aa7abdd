import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const contracts = fileURLToPath(new URL('../contracts/src/', import.meta.url))

export default defineConfig({
  resolve: {
    // The contracts package's TypeScript source, as tsconfig.json's paths name it, so tests never run against a
    // stale build of it.
    alias: [
      { find: /^@pos\/contracts$/, replacement: `${contracts}index.ts` },
      { find: /^@pos\/contracts\/(.+)$/, replacement: `${contracts}$1.ts` },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    // The device tests start real servers and device processes; each file owns its own database.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
})
