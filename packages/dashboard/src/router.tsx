// A router of a few lines: the console's pages are paths under /dashboard/, kept in the browser's history.
import { type MouseEvent, type ReactNode, useEffect, useState } from 'react'

const BASE = '/dashboard'

function current(): string {
  const path = window.location.pathname
  return path.startsWith(BASE) ? path.slice(BASE.length) || '/' : '/'
}

export function navigate(to: string): void {
  window.history.pushState(null, '', `${BASE}${to}`)
  window.dispatchEvent(new PopStateEvent('popstate'))
}

export function usePath(): string {
  const [path, setPath] = useState(current)
  useEffect(() => {
    const update = () => setPath(current())
    window.addEventListener('popstate', update)
    return () => window.removeEventListener('popstate', update)
  }, [])
  return path
}

export function Link(props: { to: string; children: ReactNode; current?: boolean }) {
  const follow = (event: MouseEvent<HTMLAnchorElement>) => {
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return
    event.preventDefault()
    navigate(props.to)
  }
  return (
    <a href={`${BASE}${props.to}`} onClick={follow} aria-current={props.current ? 'page' : undefined}>
      {props.children}
    </a>
  )
}
