// Sign-in: the admin token is sent once and exchanged for a session cookie; it is never stored by the page.
import type { Session } from '@pos/contracts/dashboard'
import { type FormEvent, useState } from 'react'
import { api } from '../api.js'

export function SignIn(props: { onSignedIn: (session: Session) => void }) {
  const [token, setToken] = useState('')
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)

  const submit = async (event: FormEvent) => {
    event.preventDefault()
    setBusy(true)
    setError(null)
    try {
      props.onSignedIn(await api<Session>('POST', '/v1/admin/session', { token }))
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err))
    } finally {
      setBusy(false)
      setToken('')
    }
  }

  return (
    <main className="centered">
      <form className="card sign-in" onSubmit={submit}>
        <h1>Sign in</h1>
        <p>Sign in with the service's admin token (ADMIN_TOKEN).</p>
        <label>
          Admin token
          <input
            type="password"
            autoComplete="current-password"
            required
            value={token}
            onChange={(event) => setToken(event.target.value)}
          />
        </label>
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          Sign in
        </button>
      </form>
    </main>
  )
}
