// The encryption key of every test app and server process, so that fixtures written straight into the
// database and the app read each other's secrets. A fixed key: tests must not depend on a key file.
import { Secrets } from '../../src/platform/secrets.js'

export const TEST_ENCRYPTION_KEY = Buffer.alloc(32, 7).toString('base64')

export const testSecrets = new Secrets(Buffer.from(TEST_ENCRYPTION_KEY, 'base64'))
