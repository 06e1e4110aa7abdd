// Command-line option parsing shared by the benches.

/** The option's value as a positive integer; anything else stops the bench with a message naming it. */
export function positiveInteger(name: string, value: string): number {
  const parsed = Number(value)
  if (!Number.isSafeInteger(parsed) || parsed < 1) throw new Error(`--${name} must be a positive integer`)
  return parsed
}
