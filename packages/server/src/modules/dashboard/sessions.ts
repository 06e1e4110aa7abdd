// Dashboard sessions: signing in with the ADMIN_TOKEN yields a cookie that stands for the token for a while,
// so the browser never keeps the token itself.
//
// The cookie is stateless: the session's random id, its expiry and a fingerprint of the admin token, sealed
// with AES-256-GCM under ENCRYPTION_KEY (platform/secrets.ts, bound to this purpose by its additional data).
// Every replica reads it without a shared session store; a key rotation keeps sessions readable through
// ENCRYPTION_KEY_PREVIOUS; changing ADMIN_TOKEN ends every session at once. Signing out records the id as
// revoked until the session would have expired: in Redis for the whole fleet, without Redis in this process
// only (then the cookie, which the browser also drops, is still valid on another replica until it expires).
// The id doubles as the CSRF token: the page learns it from the sign-in answer (or GET /v1/admin/session) and
// sends it as X-CSRF-Token with every change; another site's page can neither read it nor send the cookie
// (SameSite=Strict), so it needs both defences to fail.
import { createHash, randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import type { AdminSession, AdminSessionVerifier } from '../../http/auth.js'
import { ProblemError } from '../../platform/problems.js'
import type { Secrets } from '../../platform/secrets.js'

const PURPOSE = 'dashboard-session'
const ID = /^[A-Za-z0-9_-]{22}$/

interface SealedSession {
  readonly sid: string
  /** Expiry, ms since the epoch. */
  readonly exp: number
  /** Fingerprint of the admin token the session was signed in with. */
  readonly adm: string
}

/** Where sign-outs are remembered until the sessions they ended would have expired anyway. */
export interface Revocations {
  revoke(id: string, untilMs: number): Promise<void>
  isRevoked(id: string): Promise<boolean>
}

export class RedisRevocations implements Revocations {
  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
  ) {}

  async revoke(id: string, untilMs: number): Promise<void> {
    await this.redis.set(this.#key(id), '1', 'PX', Math.max(1, untilMs - Date.now()))
  }

  async isRevoked(id: string): Promise<boolean> {
    return (await this.redis.exists(this.#key(id))) === 1
  }

  #key(id: string): string {
    return `${this.keyPrefix}dashboard-session-revoked:${id}`
  }
}

export class LocalRevocations implements Revocations {
  readonly #until = new Map<string, number>()

  async revoke(id: string, untilMs: number): Promise<void> {
    const now = Date.now()
    for (const [known, until] of this.#until) if (until <= now) this.#until.delete(known)
    this.#until.set(id, untilMs)
  }

  async isRevoked(id: string): Promise<boolean> {
    return (this.#until.get(id) ?? 0) > Date.now()
  }
}

export interface IssuedSession extends AdminSession {
  /** The cookie's value. */
  readonly cookie: string
}

export class AdminSessions implements AdminSessionVerifier {
  readonly #adminFingerprint: string

  constructor(
    private readonly secrets: Secrets,
    adminToken: string | undefined,
    readonly ttlMs: number,
    private readonly revocations: Revocations,
  ) {
    // Without an admin token nobody can sign in; the fingerprint then matches no cookie.
    this.#adminFingerprint =
      adminToken === undefined ? '' : createHash('sha256').update(`${PURPOSE}\0${adminToken}`).digest('hex')
  }

  issue(now = Date.now()): IssuedSession {
    const session: SealedSession = {
      sid: randomBytes(16).toString('base64url'),
      exp: now + this.ttlMs,
      adm: this.#adminFingerprint,
    }
    return {
      id: session.sid,
      expiresAt: new Date(session.exp),
      cookie: this.secrets.encrypt(JSON.stringify(session), PURPOSE),
    }
  }

  async verify(cookie: string): Promise<AdminSession | undefined> {
    const session = this.#open(cookie)
    if (session === undefined || session.exp <= Date.now() || this.#adminFingerprint === '') return undefined
    if (session.adm !== this.#adminFingerprint) return undefined
    let revoked: boolean
    try {
      revoked = await this.revocations.isRevoked(session.sid)
    } catch {
      // Fail closed: a session that may have been signed out is not honoured while that cannot be checked.
      throw new ProblemError('service-unavailable', 'The dashboard session cannot be checked right now')
    }
    return revoked ? undefined : { id: session.sid, expiresAt: new Date(session.exp) }
  }

  async revoke(session: AdminSession): Promise<void> {
    await this.revocations.revoke(session.id, session.expiresAt.getTime())
  }

  #open(cookie: string): SealedSession | undefined {
    let parsed: unknown
    try {
      parsed = JSON.parse(this.secrets.decrypt(cookie, PURPOSE))
    } catch {
      return undefined
    }
    if (typeof parsed !== 'object' || parsed === null) return undefined
    const { sid, exp, adm } = parsed as Record<string, unknown>
    if (typeof sid !== 'string' || !ID.test(sid) || typeof exp !== 'number' || typeof adm !== 'string')
      return undefined
    return { sid, exp, adm }
  }
}
