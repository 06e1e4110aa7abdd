// The console's shell: the sign-in form until a session exists, then the navigation and the page
// the path names.
import type { Session } from '@pos/contracts/dashboard'
import { useEffect, useState } from 'react'
import { ApiError, api, rememberSession, whenSignedOut } from './api.js'
import { Link, navigate, usePath } from './router.js'
import { Overview } from './views/Overview.js'
import { SignIn } from './views/SignIn.js'
import { TenantPage } from './views/TenantPage.js'
import { Tenants } from './views/Tenants.js'

type Phase = 'checking' | 'signed-out' | 'signed-in'

export function App() {
  const [phase, setPhase] = useState<Phase>('checking')
  const path = usePath()

  useEffect(() => {
    whenSignedOut(() => setPhase('signed-out'))
    api<Session>('GET', '/v1/admin/session')
      .then((session) => {
        rememberSession(session)
        setPhase('signed-in')
      })
      .catch((err: unknown) => {
        if (!(err instanceof ApiError)) console.error(err)
        setPhase('signed-out')
      })
  }, [])

  if (phase === 'checking') return <main className="centered">Loading…</main>
  if (phase === 'signed-out')
    return (
      <SignIn
        onSignedIn={(session) => {
          rememberSession(session)
          setPhase('signed-in')
        }}
      />
    )

  const signOut = async () => {
    try {
      await api('DELETE', '/v1/admin/session')
    } finally {
      rememberSession({ csrfToken: null, expiresAt: null })
      setPhase('signed-out')
      navigate('/')
    }
  }

  const tenant = /^\/tenants\/([^/]+)(?:\/([a-z-]+))?$/.exec(path)
  let page = <Overview />
  if (path === '/tenants') page = <Tenants />
  else if (tenant?.[1] !== undefined)
    page = <TenantPage tenantId={decodeURIComponent(tenant[1])} tab={tenant[2] ?? 'keys'} />

  return (
    <>
      <header className="top">
        <span className="brand">POS integration service</span>
        <nav aria-label="Main">
          <Link to="/" current={path === '/'}>
            Overview
          </Link>
          <Link to="/tenants" current={path.startsWith('/tenants')}>
            Tenants
          </Link>
        </nav>
        <button type="button" className="secondary" onClick={signOut}>
          Sign out
        </button>
      </header>
      <main>{page}</main>
    </>
  )
}
