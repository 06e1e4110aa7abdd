// Tenants: the list, creating one, and deleting one with everything it owns (after a confirmation).
import type { TenantList } from '@pos/contracts/admin'
import { type FormEvent, useState } from 'react'
import { api } from '../api.js'
import { Link } from '../router.js'
import { ConfirmButton, ErrorNote, message, useResource, when } from './common.js'

export function Tenants() {
  const { data, error, reload } = useResource<TenantList>('/v1/admin/tenants')
  const [name, setName] = useState('')
  const [actionError, setActionError] = useState<string | null>(null)

  const act = async (run: () => Promise<unknown>) => {
    try {
      await run()
      setActionError(null)
      await reload()
    } catch (err) {
      setActionError(message(err))
    }
  }

  const create = async (event: FormEvent) => {
    event.preventDefault()
    await act(async () => {
      await api('POST', '/v1/admin/tenants', { name })
      setName('')
    })
  }

  return (
    <>
      <h1>Tenants</h1>
      <form className="card inline-form" onSubmit={create}>
        <label>
          New tenant's name
          <input required maxLength={200} value={name} onChange={(event) => setName(event.target.value)} />
        </label>
        <button type="submit">Create tenant</button>
      </form>
      <ErrorNote error={error ?? actionError} />
      <div className="table-scroll">
        <table>
          <caption>Every tenant</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Rate limit per key</th>
              <th scope="col">Created</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {data?.data.map((tenant) => (
              <tr key={tenant.id}>
                <td>
                  <Link to={`/tenants/${tenant.id}`}>{tenant.name}</Link>
                </td>
                <td>
                  {tenant.rateLimit === null
                    ? 'default'
                    : `${tenant.rateLimit.max} per ${tenant.rateLimit.windowMs / 1000} s`}
                </td>
                <td>{when(tenant.createdAt)}</td>
                <td>
                  <ConfirmButton
                    label="Delete"
                    question={`Delete ${tenant.name} and all its data?`}
                    onConfirm={() => act(() => api('DELETE', `/v1/admin/tenants/${tenant.id}`))}
                  />
                </td>
              </tr>
            ))}
            {data?.data.length === 0 && (
              <tr>
                <td colSpan={4}>No tenants yet.</td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
    </>
  )
}
