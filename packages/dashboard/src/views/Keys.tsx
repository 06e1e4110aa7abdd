// A tenant's API keys: create one (its key is shown once, with a copy button), revoke one.
import type { ApiKey, ApiKeyList, CreateApiKeyBody, CreatedApiKey, Scope } from '@pos/contracts/admin'
import { type FormEvent, useState } from 'react'
import { api } from '../api.js'
import { type Column, ConfirmButton, DataTable, ErrorNote, message, useResource, when } from './common.js'

// Every scope, each once: a scope the contracts add or drop breaks this build until it is listed here.
const SCOPE_CHOICES = { ingest: true, read: true, write: true, webhooks: true } satisfies Record<Scope, true>
const SCOPES = Object.keys(SCOPE_CHOICES) as Scope[]

export function ApiKeys(props: { tenantId: string }) {
  const path = `/v1/admin/tenants/${props.tenantId}/api-keys`
  const { data, error, reload } = useResource<ApiKeyList>(path)
  const [name, setName] = useState('')
  const [scopes, setScopes] = useState<Scope[]>(SCOPES)
  const [created, setCreated] = useState<CreatedApiKey | null>(null)
  const [copied, setCopied] = useState(false)
  const [actionError, setActionError] = useState<string | null>(null)

  const create = async (event: FormEvent) => {
    event.preventDefault()
    try {
      setCreated(await api<CreatedApiKey>('POST', path, { name, scopes } satisfies CreateApiKeyBody))
      setCopied(false)
      setName('')
      setActionError(null)
      await reload()
    } catch (err) {
      setActionError(message(err))
    }
  }

  const revoke = async (key: ApiKey) => {
    try {
      await api('POST', `${path}/${key.id}/revoke`)
      setActionError(null)
      await reload()
    } catch (err) {
      setActionError(message(err))
    }
  }

  const columns: Column<ApiKey>[] = [
    { title: 'Name', cell: (key) => key.name },
    { title: 'Prefix', cell: (key) => <code>{key.prefix}</code> },
    { title: 'Scopes', cell: (key) => key.scopes.join(', ') },
    { title: 'Created', cell: (key) => when(key.createdAt) },
    {
      title: 'Status',
      cell: (key) =>
        key.revokedAt === null ? (
          <ConfirmButton label="Revoke" question={`Revoke ${key.name}?`} onConfirm={() => revoke(key)} />
        ) : (
          `revoked ${when(key.revokedAt)}`
        ),
    },
  ]

  const copy = async () => {
    if (created === null) return
    await navigator.clipboard.writeText(created.key)
    setCopied(true)
  }

  return (
    <section aria-label="API keys">
      <form className="card inline-form" onSubmit={create}>
        <label>
          New key's name
          <input required maxLength={200} value={name} onChange={(event) => setName(event.target.value)} />
        </label>
        <fieldset>
          <legend>Scopes</legend>
          {SCOPES.map((scope) => (
            <label key={scope} className="check">
              <input
                type="checkbox"
                checked={scopes.includes(scope)}
                onChange={(event) =>
                  setScopes(event.target.checked ? [...scopes, scope] : scopes.filter((s) => s !== scope))
                }
              />
              {scope}
            </label>
          ))}
        </fieldset>
        <button type="submit" disabled={scopes.length === 0}>
          Create key
        </button>
      </form>
      {created && (
        <div className="card secret" role="status">
          <p>
            The key <strong>{created.name}</strong>, shown only now: copy it, it cannot be shown again.
          </p>
          <code data-created-key>{created.key}</code>
          <button type="button" onClick={copy}>
            {copied ? 'Copied' : 'Copy key'}
          </button>
        </div>
      )}
      <ErrorNote error={error ?? actionError} />
      <DataTable caption="API keys" columns={columns} items={data?.data} rowKey={(key) => key.id} />
    </section>
  )
}
