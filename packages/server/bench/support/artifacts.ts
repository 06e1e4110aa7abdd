// Where the bench and the load test leave their figures: artifacts/ at the repository root (git-ignored).
import { mkdir, writeFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url))
export const artifactsDir = resolve(repoRoot, 'artifacts')

/** A path the user typed, relative to where they ran npm (npm runs the script inside the workspace). */
export function userPath(path: string): string {
  return resolve(process.env.INIT_CWD ?? process.cwd(), path)
}

export async function writeArtifact(path: string, content: string | object): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  await writeFile(path, typeof content === 'string' ? content : `${JSON.stringify(content, null, 2)}\n`)
}
