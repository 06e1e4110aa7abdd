// Just enough semantic versioning to tell whether this SDK is older than the server's minSdkVersion:
// MAJOR.MINOR.PATCH compared numerically, a pre-release (1.2.0-beta.1) older than its release.

function parse(version: string): { core: number[]; pre: string | undefined } | undefined {
  const match = /^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/.exec(version.trim())
  if (match === null) return undefined
  return { core: [Number(match[1]), Number(match[2]), Number(match[3])], pre: match[4] }
}

/** Negative when a < b, positive when a > b, 0 when equal; undefined when either is not a version. */
export function compareVersions(a: string, b: string): number | undefined {
  const x = parse(a)
  const y = parse(b)
  if (x === undefined || y === undefined) return undefined
  for (let i = 0; i < 3; i++) {
    const d = (x.core[i] as number) - (y.core[i] as number)
    if (d !== 0) return d
  }
  if (x.pre === y.pre) return 0
  if (x.pre === undefined) return 1
  if (y.pre === undefined) return -1
  return x.pre < y.pre ? -1 : 1
}
