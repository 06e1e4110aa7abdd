import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { runCli } from '../../src/cli/index.js'
import { openDatabase } from '../../src/platform/database.js'

const log = pino({ level: 'silent' })

describe('the embedded database lock', () => {
  it('keeps a second process out of a data directory in use, and takes over a lock whose owner is gone', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'pos-lock-'))
    const lockPath = join(dataDir, 'pos-service.lock')
    // PID 1 is always alive: another process holds the directory.
    writeFileSync(lockPath, '1')
    await expect(openDatabase({ databaseUrl: undefined, dataDir, log })).rejects.toThrow(
      /in use by process 1/,
    )

    // A lock left by a process that no longer exists is stale.
    writeFileSync(lockPath, '2147483646')
    const handle = await openDatabase({ databaseUrl: undefined, dataDir, log })
    expect(readFileSync(lockPath, 'utf8')).toBe(String(process.pid))
    await handle.close()
    expect(existsSync(lockPath)).toBe(false)
  }, 60_000)

  it('has the CLI say plainly, while the server holds the directory, to stop it or use the admin API', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'pos-lock-'))
    writeFileSync(join(dataDir, 'pos-service.lock'), '1')
    let stdout = ''
    let stderr = ''
    const code = await runCli(['key:create', '00000000-0000-4000-8000-000000000000', 'demo'], {
      env: { DATA_DIR: dataDir },
      stdout: (text) => {
        stdout += text
      },
      stderr: (text) => {
        stderr += text
      },
    })
    expect(code).toBe(1)
    expect(stdout).toBe('')
    expect(stderr).toContain(`the embedded database in ${dataDir} is in use by process 1`)
    expect(stderr).toContain('stop the server (Ctrl-C) and run this')
    expect(stderr).toContain('/api-keys')
    expect(stderr).not.toMatch(/^\s+at /m)
  })
})
