// A tenant's sources: create one (a Square or Shopify one with its connector), rotate its signing secret and
// retire the previous one, delete it; a Square or Shopify source also shows its connector settings (never a
// secret: only which are set), which can be changed, its dead letters and its reconciliations.
import type {
  ConnectorDeadLetter,
  ConnectorInput,
  ConnectorKind,
  ConnectorPatch,
  ConnectorView,
  CreateSourceBody,
  ReconciliationList,
  RotateSecretBody,
  Source,
  SourceKind,
  SourceList,
} from '@pos/contracts/admin'
import { type FormEvent, useState } from 'react'
import { api, type Page } from '../api.js'
import { ConfirmButton, ErrorNote, message, useResource, when } from './common.js'
import { CONNECTOR_FIELDS, connectorField, isConnectorKind, PROVIDER_NAMES } from './connector-fields.js'

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
      await api('POST', `${props.path}/rotate-secret`, { signingSecret: secret } satisfies RotateSecretBody)
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

/** The inputs of connector fields: a secret is a password field that the browser does not fill or keep. */
function ConnectorInputs(props: {
  kind: ConnectorKind
  names: readonly string[]
  values: Readonly<Record<string, string>>
  onChange: (name: string, value: string) => void
  /** Editing a stored connector: a secret left blank stays as it is. */
  editing: boolean
}) {
  return props.names.map((name) => {
    const field = connectorField(props.kind, name)
    // A new source's optional field left blank takes its default; a stored connector's blank secret stays.
    let note = ''
    if (!props.editing && field.optional) note = ' (optional)'
    if (props.editing && field.secret) note = ' (blank: unchanged)'
    return (
      <label key={name}>
        {field.label}
        {note}
        <input
          type={field.secret ? 'password' : 'text'}
          autoComplete={field.secret ? 'new-password' : 'off'}
          required={!props.editing && !field.optional}
          placeholder={field.placeholder}
          value={props.values[name] ?? ''}
          onChange={(event) => props.onChange(name, event.target.value)}
        />
      </label>
    )
  })
}

/** Changes the connector's settings and secrets; a secret left blank stays as it is. */
function ConnectorSettings(props: {
  path: string
  kind: ConnectorKind
  connector: ConnectorView
  webhookUrl: string
  onSaved: () => Promise<void>
}) {
  const [values, setValues] = useState<Record<string, string>>({ ...props.connector.settings })
  const [error, setError] = useState<string | null>(null)
  const [saved, setSaved] = useState(false)
  const names = [...new Set([...Object.keys(CONNECTOR_FIELDS[props.kind]), ...Object.keys(values)])]
  const change = (name: string, value: string) => {
    setSaved(false)
    setValues((current) => ({ ...current, [name]: value }))
  }
  const save = async (event: FormEvent) => {
    event.preventDefault()
    const patch: ConnectorPatch = Object.fromEntries(
      Object.entries(values).filter(([name, value]) =>
        name in props.connector.settings ? value !== props.connector.settings[name] : value !== '',
      ),
    )
    try {
      await api('PATCH', `${props.path}/connector`, patch)
      // The secrets typed in are sent once and then forgotten, like those of a new source.
      setValues((current) =>
        Object.fromEntries(
          Object.entries(current).filter(([name]) => !connectorField(props.kind, name).secret),
        ),
      )
      setError(null)
      setSaved(true)
      await props.onSaved()
    } catch (err) {
      setError(message(err))
    }
  }
  return (
    <form className="inline-form" aria-label="Connector settings" onSubmit={save}>
      <ConnectorInputs kind={props.kind} names={names} values={values} onChange={change} editing />
      {props.kind === 'square' && (
        <button
          type="button"
          className="secondary"
          onClick={() => change('notificationUrl', props.webhookUrl)}
        >
          Use the webhook URL
        </button>
      )}
      <button type="submit">Save connector</button>
      {saved && <p role="status">Saved.</p>}
      <ErrorNote error={error} />
    </form>
  )
}

function ConnectorDetails(props: {
  path: string
  source: Source
  kind: ConnectorKind
  connector: ConnectorView
  onSaved: () => Promise<void>
}) {
  const deadLetters = useResource<Page<ConnectorDeadLetter>>(`${props.path}/dead-letters`)
  const runs = useResource<ReconciliationList>(`${props.path}/reconciliations`)
  const [error, setError] = useState<string | null>(null)
  // Where the provider sends its webhooks, as this console is reached (behind a proxy: the public address).
  const webhookUrl = `${window.location.origin}/v1/webhooks/${props.kind}/${props.source.id}`
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
      <dl className="settings">
        <dt>Webhook URL to give {PROVIDER_NAMES[props.kind]}</dt>
        <dd>
          <code>{webhookUrl}</code>
        </dd>
        <dt>Secrets set</dt>
        <dd>{props.connector.secretsSet.join(', ') || 'none'}</dd>
      </dl>
      <ConnectorSettings
        path={props.path}
        kind={props.kind}
        connector={props.connector}
        webhookUrl={webhookUrl}
        onSaved={props.onSaved}
      />
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

const KINDS = {
  sdk: 'sdk',
  custom: 'custom',
  square: 'square (connector)',
  shopify: 'shopify (connector)',
} satisfies Record<SourceKind, string>

export function Sources(props: { tenantId: string }) {
  const path = `/v1/admin/tenants/${props.tenantId}/sources`
  const { data, error, reload } = useResource<SourceList>(path)
  const [name, setName] = useState('')
  const [kind, setKind] = useState<SourceKind>('sdk')
  const [signingSecret, setSigningSecret] = useState('')
  // The new connector's fields, secrets included: kept only until the source is created.
  const [connector, setConnector] = useState<Record<string, string>>({})
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
    const body: CreateSourceBody = isConnectorKind(kind)
      ? {
          name,
          kind,
          // Checked against the kind's fields by the service, which names any field it refuses.
          connector: Object.fromEntries(
            Object.keys(CONNECTOR_FIELDS[kind])
              .map((field) => [field, connector[field] ?? ''])
              .filter(([, value]) => value !== ''),
          ) as ConnectorInput,
        }
      : { name, kind, ...(signingSecret === '' ? {} : { signingSecret }) }
    void act(async () => {
      await api('POST', path, body)
      setName('')
      setSigningSecret('')
      setConnector({})
    }, `Source ${name} created.`)
  }

  return (
    <section aria-label="Sources">
      <form className="card inline-form" aria-label="New source" onSubmit={create}>
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
          <select
            value={kind}
            onChange={(event) => {
              setKind(event.target.value as SourceKind)
              setConnector({})
            }}
          >
            {Object.entries(KINDS).map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </label>
        {isConnectorKind(kind) ? (
          <fieldset className="inline-form">
            <legend>{PROVIDER_NAMES[kind]} connector</legend>
            <ConnectorInputs
              kind={kind}
              names={Object.keys(CONNECTOR_FIELDS[kind])}
              values={connector}
              onChange={(field, value) => setConnector((current) => ({ ...current, [field]: value }))}
              editing={false}
            />
          </fieldset>
        ) : (
          <label>
            Signing secret (optional)
            <input
              minLength={16}
              value={signingSecret}
              onChange={(event) => setSigningSecret(event.target.value)}
            />
          </label>
        )}
        <button type="submit">Create source</button>
        {isConnectorKind(kind) && (
          <p className="muted">
            {PROVIDER_NAMES[kind]} sends its webhooks to /v1/webhooks/{kind}/&lt;source id&gt;: the id is
            shown once the source exists
            {kind === 'square' && ', and the notification URL can then be set to that address'}.
          </p>
        )}
      </form>
      {notice && <p role="status">{notice}</p>}
      <ErrorNote error={error ?? actionError} />
      {data?.data.map((source) => (
        <article key={source.id} className="card">
          <h3>
            {source.name} <span className="muted">({source.kind})</span>
          </h3>
          <p>
            {isConnectorKind(source.kind)
              ? `Webhooks verified by ${PROVIDER_NAMES[source.kind]}'s signature.`
              : source.signed
                ? 'Signed requests required.'
                : 'Unsigned.'}{' '}
            Created {when(source.createdAt)}.
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
          {source.connector !== null && isConnectorKind(source.kind) && (
            <ConnectorDetails
              path={`${path}/${source.id}`}
              source={source}
              kind={source.kind}
              connector={source.connector}
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
