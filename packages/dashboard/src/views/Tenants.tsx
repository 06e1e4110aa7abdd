// Tenants: the list, creating one, and deleting one with everything it owns (after a confirmation).
import type { Tenant, TenantList } from '@pos/contracts/admin'
import { type FormEvent, useState } from 'react'
import { api } from '../api.js'
import { Link } from '../router.js'
import { type Column, ConfirmButton, DataTable, ErrorNote, message, useResource, when } from './common.js'

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

  const columns: Column<Tenant>[] = [
    { title: 'Name', cell: (tenant) => <Link to={`/tenants/${tenant.id}`}>{tenant.name}</Link> },
    {
      title: 'Rate limit per key',
      cell: (tenant) =>
        tenant.rateLimit === null
          ? 'default'
          : `${tenant.rateLimit.max} per ${tenant.rateLimit.windowMs / 1000} s`,
    },
    { title: 'Created', cell: (tenant) => when(tenant.createdAt) },
    {
      title: 'Actions',
      cell: (tenant) => (
        <ConfirmButton
          label="Delete"
          question={`Delete ${tenant.name} and all its data?`}
          onConfirm={() => act(() => api('DELETE', `/v1/admin/tenants/${tenant.id}`))}
        />
      ),
    },
  ]

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
      <DataTable
        caption="Every tenant"
        columns={columns}
        items={data?.data}
        rowKey={(tenant) => tenant.id}
        empty="No tenants yet."
      />
    </>
  )
}
