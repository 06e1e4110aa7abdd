// Target safety for webhook endpoints (SSRF): a tenant chooses the URL, the service makes the call, so a URL
// must not reach the service's own network. Checked twice: when the endpoint is created or changed (a clear
// 422), and again on every connection, by the DNS lookup of the HTTP client that delivers, so a name that
// resolved to a public address at creation and to 127.0.0.1 later (DNS rebinding) is refused all the same.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns'
import { lookup as dnsLookupAsync } from 'node:dns/promises'
import { BlockList, isIP, type LookupFunction } from 'node:net'
import { Agent } from 'undici'

export interface TargetPolicy {
  readonly allowHttp: boolean
  readonly allowPrivateTargets: boolean
}

/** Why a target is refused, in words a tenant can act on. */
export class TargetRefused extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'TargetRefused'
  }
}

// Loopback, private, shared, link-local (cloud metadata lives at 169.254.169.254), unspecified, multicast and
// reserved ranges, and their IPv6 counterparts (IPv4-mapped addresses are checked as IPv4).
const forbidden = new BlockList()
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  forbidden.addSubnet(network, prefix, 'ipv4')
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['64:ff9b::', 96],
] as const)
  forbidden.addSubnet(network, prefix, 'ipv6')

/** Whether an address is one a webhook must never reach (unless private targets are allowed). */
export function isForbiddenAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  if (mapped?.[1] !== undefined) return forbidden.check(mapped[1], 'ipv4')
  const family = isIP(address)
  if (family === 0) return true
  return forbidden.check(address, family === 4 ? 'ipv4' : 'ipv6')
}

/** The URL's host without IPv6 brackets. */
function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1')
}

/** Parses and checks a URL's form: scheme, no credentials, no fragment. Throws TargetRefused. */
export function parseTargetUrl(text: string, policy: TargetPolicy): URL {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new TargetRefused('The url is not an absolute URL')
  }
  const schemes = policy.allowHttp ? ['https:', 'http:'] : ['https:']
  if (!schemes.includes(url.protocol))
    throw new TargetRefused(`The url must use ${policy.allowHttp ? 'https or http' : 'https'}`)
  if (url.username !== '' || url.password !== '')
    throw new TargetRefused('The url must not carry credentials')
  if (url.hash !== '') throw new TargetRefused('The url must not have a fragment')
  return url
}

/**
 * Checks a URL fully, as at creation: its form, then every address its host resolves to. Throws
 * TargetRefused when a check fails or the name does not resolve.
 */
export async function checkTarget(text: string, policy: TargetPolicy): Promise<URL> {
  const url = parseTargetUrl(text, policy)
  if (policy.allowPrivateTargets) return url
  const host = hostOf(url)
  let addresses: LookupAddress[]
  try {
    addresses = isIP(host) === 0 ? await dnsLookupAsync(host, { all: true }) : [{ address: host, family: 0 }]
  } catch {
    throw new TargetRefused(`The host ${host} does not resolve`)
  }
  if (addresses.length === 0 || addresses.some(({ address }) => isForbiddenAddress(address)))
    throw new TargetRefused(
      `The host ${host} resolves to a loopback, private, link-local or reserved address`,
    )
  return url
}

/** Told of each connection the guard refused: the host and the forbidden address it resolved to. */
export type RefusalListener = (hostname: string, address: string) => void

/** A DNS lookup that fails for forbidden addresses; handed to every connection the delivery client opens. */
const guardedLookup =
  (onRefused: RefusalListener): LookupFunction =>
  (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0)
      const list = addresses as LookupAddress[]
      const refused = list.find(({ address }) => isForbiddenAddress(address))
      if (refused !== undefined || list.length === 0) {
        onRefused(hostname, refused?.address ?? 'none')
        const error: NodeJS.ErrnoException = new TargetRefused(`${hostname} resolves to a forbidden address`)
        error.code = 'ETARGETREFUSED'
        return callback(error, '', 0)
      }
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list)
      const first = list[0] as LookupAddress
      callback(null, first.address, first.family)
    })
  }

/**
 * The HTTP client webhook deliveries go through: with private targets refused, its lookup checks every
 * address it connects to. An IP literal is never looked up, so the dispatcher checks those itself
 * (`refusedAtConnect`).
 */
export function deliveryAgent(policy: TargetPolicy, timeoutMs: number, onRefused: RefusalListener): Agent {
  return new Agent({
    connect: {
      timeout: timeoutMs,
      ...(policy.allowPrivateTargets ? {} : { lookup: guardedLookup(onRefused) }),
    },
  })
}

/** Why a stored URL may not be called now, or undefined when it may (the lookup checks names). */
export function refusedAtConnect(text: string, policy: TargetPolicy): string | undefined {
  try {
    const url = parseTargetUrl(text, policy)
    const host = hostOf(url)
    if (!policy.allowPrivateTargets && isIP(host) !== 0 && isForbiddenAddress(host))
      return `${host} is a forbidden address`
    return undefined
  } catch (err) {
    return (err as Error).message
  }
}
