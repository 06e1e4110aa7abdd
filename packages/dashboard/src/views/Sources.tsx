// A tenant's sources: create one, rotate its signing secret and retire the previous one, delete it; a Square
// or Shopify source also shows its connector settings, its dead letters and its reconciliations.
import { type FormEvent, useState } from 'react'
import { api, type Source } from '../api.js'
import { ConfirmButton, ErrorNote, message, useResource, when } from './common.js'

/** 32 random bytes in hex, for a new signing secret. */
function randomSecret(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(32)), (b) => b.toString(16).padStart(2, '0')).join(
    '',
  )
}

function SecretRotation(props: { path: string; onDone: (secret: string) => Promise<void> }) {
  const [secret, setSecret] = useState('')
  const [error, setError] = useState<string | null>(null)
  const rotate = async (event: FormEvent) => {
    event.preventDefault()
    try {
      await api('POST', `${props.path}/rotate-secret`, { signingSecret: secret })
      setError(null)
      await props.onDone(secret)
      setSecret('')
    } catch (err) {
      setError(message(err))
    }
  }
  return (
    <form className="inline-form compact" onSubmit={rotate}>
      <label>
        New signing secret
        <input required minLength={16} value={secret} onChange={(event) => setSecret(event.target.value)} />
      </label>
      <button type="button" className="secondary" onClick={() => setSecret(randomSecret())}>
        Generate
      </button>
      <button type="submit">Rotate</button>
      <ErrorNote error={error} />
    </form>
  )
}

type ConnectorView = NonNullable<Source['connector']>

interface DeadLetter {
  readonly id: string
  readonly topic: string
  readonly reason: string | null
  readonly attempts: number
  readonly failedAt: string
}

interface Reconciliation {
  readonly id: string
  readonly status: string
  readonly trigger: string
  readonly objects: number
  readonly drift: number
  readonly driftRatio: number
  readonly unmappable: number
  readonly lastError: string | null
  readonly startedAt: string
}

/** Changes the connector's settings and secrets; a secret left blank stays as it is. */
function ConnectorSettings(props: { path: string; connector: ConnectorView; onSaved: () => Promise<void> }) {
  const [values, setValues] = useState<Record<string, string>>({ ...props.connector.settings })
  const [error, setError] = useState<string | null>(null)
  const [saved, setSaved] = useState(false)
  const save = async (event: FormEvent) => {
    event.preventDefault()
    const patch = Object.fromEntries(
      Object.entries(values).filter(([name, value]) =>
        name in props.connector.settings ? value !== props.connector.settings[name] : value !== '',
      ),
    )
    try {
      await api('PATCH', `${props.path}/connector`, patch)
      setError(null)
      setSaved(true)
      await props.onSaved()
    } catch (err) {
      setError(message(err))
    }
  }
  const field = (name: string, secret: boolean) => (
    <label key={name}>
      {secret ? `${name} (blank: unchanged)` : name}
      <input
        type={secret ? 'password' : 'text'}
        autoComplete="off"
        value={values[name] ?? ''}
        onChange={(event) => {
          setSaved(false)
          setValues({ ...values, [name]: event.target.value })
        }}
      />
    </label>
  )
  return (
    <form className="inline-form" onSubmit={save}>
      {Object.keys(props.connector.settings).map((name) => field(name, false))}
      {props.connector.secretsSet.map((name) => field(name, true))}
      <button type="submit">Save connector</button>
      {saved && <p role="status">Saved.</p>}
      <ErrorNote error={error} />
    </form>
  )
}

function ConnectorDetails(props: {
  path: string
  source: Source & { connector: ConnectorView }
  onSaved: () => Promise<void>
}) {
  const deadLetters = useResource<{ data: DeadLetter[] }>(`${props.path}/dead-letters`)
  const runs = useResource<{ data: Reconciliation[] }>(`${props.path}/reconciliations`)
  const [error, setError] = useState<string | null>(null)
  const act = async (run: () => Promise<unknown>) => {
    try {
      await run()
      setError(null)
      await Promise.all([deadLetters.reload(), runs.reload()])
    } catch (err) {
      setError(message(err))
    }
  }
  return (
    <div className="connector">
      <h4>Connector settings</h4>
      <ConnectorSettings path={props.path} connector={props.source.connector} onSaved={props.onSaved} />
      <h4>Dead letters</h4>
      <ErrorNote error={deadLetters.error ?? error} />
      <ul>
        {deadLetters.data?.data.map((letter) => (
          <li key={letter.id}>
            {letter.topic}: {letter.reason ?? 'failed'} ({letter.attempts} attempts, {when(letter.failedAt)}){' '}
            <button
              type="button"
              className="secondary"
              onClick={() => void act(() => api('POST', `${props.path}/dead-letters/${letter.id}/replay`))}
            >
              Replay
            </button>
          </li>
        ))}
        {deadLetters.data?.data.length === 0 && <li>None.</li>}
      </ul>
      <h4>Reconciliations</h4>
      <button
        type="button"
        className="secondary"
        onClick={() => void act(() => api('POST', `${props.path}/reconcile`))}
      >
        Reconcile now
      </button>
      <ErrorNote error={runs.error} />
      <ul>
        {runs.data?.data.map((run) => (
          <li key={run.id}>
            {when(run.startedAt)} ({run.trigger}): {run.status}, {run.objects} objects, drift {run.drift} (
            {(run.driftRatio * 100).toFixed(1)} %), {run.unmappable} unmappable
            {run.lastError && `, last error: ${run.lastError}`}
          </li>
        ))}
        {runs.data?.data.length === 0 && <li>None yet.</li>}
      </ul>
    </div>
  )
}

export function Sources(props: { tenantId: string }) {
  const path = `/v1/admin/tenants/${props.tenantId}/sources`
  const { data, error, reload } = useResource<{ data: Source[] }>(path)
  const [name, setName] = useState('')
  const [kind, setKind] = useState('sdk')
  const [signingSecret, setSigningSecret] = useState('')
  const [notice, setNotice] = useState<string | null>(null)
  const [actionError, setActionError] = useState<string | null>(null)

  const act = async (run: () => Promise<unknown>, done?: string) => {
    try {
      await run()
      setActionError(null)
      setNotice(done ?? null)
      await reload()
    } catch (err) {
      setActionError(message(err))
    }
  }

  const create = (event: FormEvent) => {
    event.preventDefault()
    const body = { name, kind, ...(signingSecret === '' ? {} : { signingSecret }) }
    void act(async () => {
      await api('POST', path, body)
      setName('')
      setSigningSecret('')
    }, `Source ${name} created.`)
  }

  return (
    <section aria-label="Sources">
      <form className="card inline-form" onSubmit={create}>
        <label>
          New source's name
          <input
            required
            pattern="[a-z0-9][a-z0-9\-]{0,62}"
            title="lowercase letters, digits and dashes"
            value={name}
            onChange={(event) => setName(event.target.value)}
          />
        </label>
        <label>
          Kind
          <select value={kind} onChange={(event) => setKind(event.target.value)}>
            <option value="sdk">sdk</option>
            <option value="custom">custom</option>
          </select>
        </label>
        <label>
          Signing secret (optional)
          <input
            minLength={16}
            value={signingSecret}
            onChange={(event) => setSigningSecret(event.target.value)}
          />
        </label>
        <button type="submit">Create source</button>
      </form>
      <p className="muted">
        Square and Shopify sources are created with their credentials through the API or the CLI.
      </p>
      {notice && <p role="status">{notice}</p>}
      <ErrorNote error={error ?? actionError} />
      {data?.data.map((source) => (
        <article key={source.id} className="card">
          <h3>
            {source.name} <span className="muted">({source.kind})</span>
          </h3>
          <p>
            {source.signed ? 'Signed requests required.' : 'Unsigned.'} Created {when(source.createdAt)}.
          </p>
          {source.connector === null && (
            <>
              <SecretRotation
                path={`${path}/${source.id}`}
                onDone={async () => {
                  setNotice(
                    `The signing secret of ${source.name} was rotated; the previous one is valid until retired.`,
                  )
                  await reload()
                }}
              />
              <button
                type="button"
                className="secondary"
                onClick={() =>
                  void act(
                    () => api('POST', `${path}/${source.id}/retire-previous-secret`),
                    `The previous signing secret of ${source.name} is no longer accepted.`,
                  )
                }
              >
                Retire previous secret
              </button>
            </>
          )}
          <div className="actions">
            <ConfirmButton
              label="Delete"
              question={`Delete the source ${source.name}?`}
              onConfirm={() => act(() => api('DELETE', `${path}/${source.id}`))}
            />
          </div>
          {source.connector !== null && (
            <ConnectorDetails
              path={`${path}/${source.id}`}
              source={{ ...source, connector: source.connector }}
              onSaved={reload}
            />
          )}
        </article>
      ))}
      {data?.data.length === 0 && (
        <p>No sources yet: events are sent to /v1/ingest/&lt;source name&gt;, so create one first.</p>
      )}
    </section>
  )
}
