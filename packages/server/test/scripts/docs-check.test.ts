// How npm run docs:check reads the markdown: which blocks are shell samples, which are marked to be skipped,
// and the version a guide's footer names.
import { describe, expect, it } from 'vitest'
import { footerVersion, shellSamples } from '../../scripts/docs-check.js'

const guide = [
  '# A guide',
  '```sh',
  'curl localhost:3000/livez',
  '```',
  '<!-- docs-check: skip (runs until stopped) -->',
  '',
  '```bash',
  'npm start',
  '```',
  '```json',
  '{ "not": "a sample" }',
  '```',
  '````sh',
  'echo "```"',
  '````',
  '',
  '---',
  'Checked against version 1.2.3, Node.js 20.19.',
].join('\n')

describe('docs:check', () => {
  it('finds the shell samples with their line, and the skip marker before a fence', () => {
    expect(shellSamples('guide.md', guide)).toEqual([
      { file: 'guide.md', line: 2, code: 'curl localhost:3000/livez' },
      { file: 'guide.md', line: 7, code: 'npm start', skip: 'runs until stopped' },
      { file: 'guide.md', line: 13, code: 'echo "```"' },
    ])
  })

  it("reads the version from the guide's last line only", () => {
    expect(footerVersion(guide)).toBe('1.2.3')
    expect(footerVersion('Checked against version 1.2.3.\n\nMore text after it.')).toBeUndefined()
    expect(footerVersion('_Checked against version 0.1.0._\n')).toBe('0.1.0')
  })
})
