// A test-framework-free way to state a contract: named async checks that vitest (Node) and a page in real
// Chromium (the browser adapters) both run, so every adapter is held to the very same checks.

export interface ContractCheck {
  readonly name: string
  run(): Promise<void>
}

export class ContractViolation extends Error {
  override readonly name = 'ContractViolation'
}

export function expectThat(condition: boolean, message: string): asserts condition {
  if (!condition) throw new ContractViolation(message)
}

export function expectEqual<T>(actual: T, expected: T, what: string): void {
  const a = JSON.stringify(actual)
  const e = JSON.stringify(expected)
  if (a !== e) throw new ContractViolation(`${what}: expected ${e}, got ${a}`)
}

export async function expectRejects(action: () => Promise<unknown>, what: string): Promise<void> {
  try {
    await action()
  } catch {
    return
  }
  throw new ContractViolation(`${what}: expected a rejection, it resolved`)
}
