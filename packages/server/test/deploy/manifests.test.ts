// The deployment files hold to the code: no container runtime runs here, so each file is parsed and checked
// against the app and its configuration schema (probe routes and ports, every environment variable a real
// setting, the grace period above the shutdown's own bounds, the files compose mounts).
import { existsSync, readdirSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { loadConfig } from '../../src/config.js'
import { MIGRATIONS_FOLDER } from '../../src/platform/migrations.js'
import { PUSH_TIMEOUT_MS } from '../../src/platform/pushgateway.js'
import { startTestApp, type TestApp } from '../helpers/app.js'
import {
  DASHBOARD_PATH,
  deployDir,
  readRepoFile,
  readYaml,
  readYamlDocuments,
  repoRoot,
} from './deploy-files.js'

/** main.ts gives closing PostgreSQL and Redis at most this long after the drain. */
const CLOSE_BOUND_MS = 5000
/** Besides the service's own settings: read by npm and libraries, or by build-info.ts (the commit of the build). */
const STANDARD_VARIABLES = new Set(['NODE_ENV', 'GIT_COMMIT'])
const IMAGE_PORT = 3000

/** The environment variables the configuration schema reads: loadConfig, run on an environment that records. */
function configSettings(): Set<string> {
  const read = new Set<string>()
  const env = new Proxy({} as Record<string, string | undefined>, {
    get(_target, name) {
      if (typeof name === 'string') read.add(name)
      return undefined
    },
  })
  loadConfig(env)
  return read
}

const settings = configSettings()
const defaults = loadConfig({})

function expectRealSettings(names: Iterable<string>, where: string): void {
  for (const name of names) {
    expect(settings.has(name) || STANDARD_VARIABLES.has(name), `${where}: ${name} is not a setting`).toBe(
      true,
    )
  }
}

/** The source file a built entry (dist/….js, run from packages/server) is compiled from. */
function sourceOf(builtEntry: string): string {
  expect(builtEntry).toMatch(/^dist\/.+\.js$/)
  return `${repoRoot}packages/server/${builtEntry.replace(/^dist\//, 'src/').replace(/\.js$/, '.ts')}`
}

/** The shortest grace that lets a shutdown with these settings finish before SIGKILL, in seconds. */
function shutdownBoundSeconds(env: Record<string, string | undefined>): number {
  const readinessDelayMs = Number(env.SHUTDOWN_READINESS_DELAY_MS ?? defaults.shutdownReadinessDelayMs)
  const graceMs = Number(env.SHUTDOWN_GRACE_MS ?? defaults.shutdownGraceMs)
  return (readinessDelayMs + graceMs + PUSH_TIMEOUT_MS + CLOSE_BOUND_MS) / 1000
}

let t: TestApp
beforeAll(async () => {
  t = await startTestApp({ waitForStartup: false })
})
afterAll(() => t.close())

function expectRoute(path: string): void {
  expect(t.app.hasRoute({ method: 'GET', url: path }), `GET ${path} is a route of the app`).toBe(true)
}

it('the settings are read off the configuration schema', () => {
  expect(settings.has('DATABASE_URL')).toBe(true)
  expect(settings.has('METRICS_PUSHGATEWAY_URL')).toBe(true)
  expect(settings.has('NOT_A_SETTING')).toBe(false)
})

describe('deploy/Dockerfile', () => {
  const dockerfile = readRepoFile('deploy/Dockerfile').replace(/\\\n\s*/g, ' ')
  const lines = dockerfile.split('\n').filter((line) => line.trim() !== '' && !line.trim().startsWith('#'))
  const stages = lines.filter((line) => /^FROM /i.test(line))
  const runtime = lines.slice(lines.indexOf(stages.at(-1)!))
  const instruction = (name: string) => runtime.filter((line) => line.startsWith(`${name} `))

  it('builds in one stage and runs Node 24 LTS slim in another, with production dependencies only', () => {
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:24-slim$/m)
    expect(stages.map((line) => /^FROM \$\{NODE_IMAGE\} AS (\w+)$/.exec(line)?.[1])).toEqual([
      'build',
      'runtime',
    ])
    expect(runtime.some((line) => /^RUN npm ci --omit=dev\b/.test(line))).toBe(true)
    expect(runtime).toContain('COPY --from=build /runtime/ ./')
  })

  it('ships every built workspace the server imports, and the migrations where the server looks for them', () => {
    const assembled = lines.find((line) => line.startsWith('RUN mkdir /runtime'))
    expect(assembled).toContain('for dist in packages/*/dist; do cp -r --parents "$dist" /runtime/; done')
    // The server's own imports of other workspaces resolve to their dist/, which the loop above carries.
    const server = JSON.parse(readRepoFile('packages/server/package.json')) as {
      dependencies: Record<string, string>
    }
    const workspaces = Object.keys(server.dependencies).filter((name) => name.startsWith('@pos/'))
    for (const name of workspaces) {
      const manifest = JSON.parse(readRepoFile(`packages/${name.slice('@pos/'.length)}/package.json`)) as {
        exports: Record<string, { default: string }>
      }
      for (const target of Object.values(manifest.exports))
        expect(target.default, name).toMatch(/^\.\/dist\//)
    }
    expect(assembled).toContain('cp -r --parents packages/server/drizzle /runtime/')
    expect(MIGRATIONS_FOLDER).toBe(`${repoRoot}packages/server/drizzle/`)
  })

  it('runs as a user other than root', () => {
    const user = instruction('USER').at(-1)
    expect(user).toBeDefined()
    expect(user).not.toMatch(/^USER (root|0)(:|$)/)
  })

  it('checks its health on /livez with node, on the port it listens on', () => {
    const healthcheck = instruction('HEALTHCHECK').join(' ')
    expect(healthcheck).toContain('CMD ["node", "-e"')
    expect(healthcheck).toContain("'/livez'")
    expectRoute('/livez')
    expect(instruction('EXPOSE')).toEqual([`EXPOSE ${IMAGE_PORT}`])
    expect(dockerfile).toMatch(new RegExp(`\\bPORT=${IMAGE_PORT}\\b`))
  })

  it('sets only real settings, and starts the built server', () => {
    const names = instruction('ENV').flatMap((line) =>
      [...line.slice(4).matchAll(/(\w+)=/g)].map((m) => m[1]!),
    )
    expect(names).toEqual(expect.arrayContaining(['NODE_ENV', 'PORT', 'HOST', 'DATA_DIR', 'GIT_COMMIT']))
    expectRealSettings(names, 'Dockerfile')
    expect(instruction('CMD').at(-1)).toBe('CMD ["node", "dist/main.js"]')
    expect(existsSync(sourceOf('dist/main.js'))).toBe(true)
  })
})

interface ComposeService {
  image?: string
  build?: unknown
  command?: string[]
  environment?: Record<string, string>
  ports?: string[]
  volumes?: string[]
  depends_on?: Record<string, { condition: string }> | string[]
  stop_grace_period?: string
}

describe('deploy/compose.yaml', () => {
  const compose = parse(readRepoFile('deploy/compose.yaml'), { merge: true }) as {
    services: Record<string, ComposeService>
  }
  const { services } = compose
  const ours = Object.entries(services).filter(
    ([, service]) => service.image === 'pos-integration-service:local',
  )
  const replicas = ours.filter(([name]) => name !== 'migrate')

  /** A volume's host side, relative to deploy/, for its container path. */
  function mounted(service: ComposeService, containerPath: string): string {
    const volume = service.volumes?.find((v) => v.split(':')[1] === containerPath)
    expect(volume, `a volume at ${containerPath}`).toBeDefined()
    return `${deployDir}${volume!.split(':')[0]!.replace(/^\.\//, '')}`
  }

  it('runs PostgreSQL, Redis, the migrations once, two replicas, a Pushgateway, Prometheus and Grafana', () => {
    expect(Object.keys(services)).toEqual(
      expect.arrayContaining(['postgres', 'redis', 'migrate', 'pushgateway', 'prometheus', 'grafana']),
    )
    expect(replicas.map(([name]) => name)).toEqual(['app-1', 'app-2'])
    expect(services.migrate!.command).toEqual(['node', 'dist/cli/db.js', 'migrate'])
    expect(existsSync(sourceOf(services.migrate!.command![1]!))).toBe(true)
    for (const [, replica] of replicas) {
      expect(replica.depends_on).toMatchObject({ migrate: { condition: 'service_completed_successfully' } })
      expect(replica.environment?.MIGRATE_ON_START).toBe('false')
    }
  })

  it('gives the services only real settings, listening on the port it publishes', () => {
    for (const [name, service] of ours) {
      const env = service.environment ?? {}
      expectRealSettings(Object.keys(env), `compose ${name}`)
      if (name === 'migrate') continue
      const port = Number(env.PORT ?? IMAGE_PORT)
      expect(service.ports?.map((mapping) => Number(mapping.split(':').at(-1)))).toEqual([port])
      // Compose's default of 10 s would SIGKILL a drain.
      expect(Number.parseInt(service.stop_grace_period ?? '10s', 10)).toBeGreaterThanOrEqual(
        shutdownBoundSeconds(env),
      )
    }
  })

  it("Prometheus scrapes both replicas under the alerts' job and loads the rule file", () => {
    const prometheus = services.prometheus!
    expect(prometheus.command).toContain('--config.file=/etc/prometheus/prometheus.yml')
    const configDir = mounted(prometheus, '/etc/prometheus')
    const config = parse(readRepoFile(`${configDir.slice(repoRoot.length)}/prometheus.yml`)) as {
      rule_files: string[]
      scrape_configs: { job_name: string; static_configs?: { targets: string[] }[] }[]
    }
    for (const file of config.rule_files) expect(existsSync(`${configDir}/${file}`), file).toBe(true)
    expect(config.rule_files).toContain('alerts.yml')
    const job = config.scrape_configs.find((c) => c.job_name === 'pos-integration-service')
    expect(job?.static_configs?.flatMap((c) => c.targets)).toEqual(
      replicas.map(([name, service]) => `${name}:${service.environment?.PORT ?? IMAGE_PORT}`),
    )
    expect(readRepoFile('deploy/prometheus/alerts.yml')).toContain('job="pos-integration-service"')
  })

  it('Grafana is provisioned with the Prometheus data source and the dashboard', () => {
    const grafana = services.grafana!
    const provisioning = mounted(grafana, '/etc/grafana/provisioning')
    const dashboards = mounted(grafana, '/var/lib/grafana/dashboards')
    const datasources = readYaml(`${provisioning.slice(repoRoot.length)}/datasources/prometheus.yaml`) as {
      datasources: { type: string; url: string }[]
    }
    expect(datasources.datasources).toEqual([
      expect.objectContaining({ type: 'prometheus', url: 'http://prometheus:9090' }),
    ])
    const providers = readYaml(
      `${provisioning.slice(repoRoot.length)}/dashboards/pos-integration-service.yaml`,
    ) as { providers: { options: { path: string } }[] }
    expect(providers.providers.map((p) => p.options.path)).toEqual(['/var/lib/grafana/dashboards'])
    expect(readdirSync(dashboards)).toContain(DASHBOARD_PATH.split('/').at(-1))
    expect(`${repoRoot}${DASHBOARD_PATH}`).toBe(`${dashboards}/${DASHBOARD_PATH.split('/').at(-1)}`)
  })
})

interface EnvVar {
  name: string
  value?: string
  valueFrom?: { secretKeyRef?: { name: string; key: string } }
}

interface Probe {
  httpGet: { path: string; port: string | number }
  timeoutSeconds?: number
}

interface Container {
  image: string
  command?: string[]
  env: EnvVar[]
  ports: { name: string; containerPort: number }[]
  startupProbe: Probe
  readinessProbe: Probe
  livenessProbe: Probe
}

type Labels = Record<string, string>

/** The fields of the manifests' specs that the tests read. */
interface Manifest {
  kind: string
  metadata: { name: string; labels?: Labels }
  spec: {
    template: {
      metadata: { labels: Labels }
      spec: { terminationGracePeriodSeconds: number; containers: Container[] }
    }
    selector: Labels & { matchLabels: Labels }
    ports: { targetPort: string }[]
    scaleTargetRef: { kind: string; name: string }
    minReplicas: number
    podSelector: { matchLabels: Labels }
    ingress: { ports: { port: string; protocol: string }[] }[]
  }
  stringData?: Record<string, string>
  resources?: string[]
}

describe('deploy/kubernetes', () => {
  const dir = 'deploy/kubernetes'
  const files = readdirSync(`${repoRoot}${dir}`).filter((name) => name.endsWith('.yaml'))
  const manifests = files.flatMap((file) => readYamlDocuments(`${dir}/${file}`) as Manifest[])
  const one = (kind: string) => {
    const found = manifests.filter((m) => m.kind === kind)
    expect(found, kind).toHaveLength(1)
    return found[0]!
  }
  const deployment = one('Deployment')
  const pod = deployment.spec.template.spec
  const container = pod.containers[0]!
  const env = Object.fromEntries(container.env.map((v) => [v.name, v.value]))
  const secret = one('Secret')

  it('has a Deployment, migration Job, Service, HPA, PodDisruptionBudget, NetworkPolicy and Secret example', () => {
    expect(manifests.map((m) => m.kind).sort()).toEqual(
      [
        'Deployment',
        'HorizontalPodAutoscaler',
        'Job',
        'Kustomization',
        'NetworkPolicy',
        'PodDisruptionBudget',
        'Secret',
        'Service',
      ].sort(),
    )
    for (const resource of one('Kustomization').resources ?? []) expect(files).toContain(resource)
  })

  it('probes /startupz, /readyz and /livez on the container port the server listens on', () => {
    const { ports } = container
    const portOf = (port: string | number) =>
      typeof port === 'number' ? port : ports.find((p) => p.name === port)?.containerPort
    expect(Number(env.PORT ?? defaults.port)).toBe(ports[0]!.containerPort)
    expect(ports[0]!.containerPort).toBe(IMAGE_PORT)
    const probes = {
      startupProbe: '/startupz',
      readinessProbe: '/readyz',
      livenessProbe: '/livez',
    } as const
    for (const [probe, path] of Object.entries(probes) as [keyof typeof probes, string][]) {
      expect(container[probe].httpGet.path, probe).toBe(path)
      expect(portOf(container[probe].httpGet.port), probe).toBe(ports[0]!.containerPort)
      expectRoute(path)
    }
    // A readiness probe must outwait the service's own bound on each dependency check.
    expect((container.readinessProbe.timeoutSeconds ?? 1) * 1000).toBeGreaterThan(
      Number(env.READINESS_TIMEOUT_MS ?? defaults.readinessTimeoutMs),
    )
  })

  it('gives a shutdown its readiness delay, drain, snapshot push and close before SIGKILL', () => {
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(shutdownBoundSeconds(env))
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(
      (defaults.shutdownReadinessDelayMs + defaults.shutdownGraceMs) / 1000,
    )
  })

  it('sets only real settings, and takes the secrets from the Secret', () => {
    const variables = container.env
    expectRealSettings(
      variables.map((v) => v.name),
      'Deployment',
    )
    for (const name of ['DATABASE_URL', 'REDIS_URL', 'ADMIN_TOKEN', 'ENCRYPTION_KEY']) {
      const ref = variables.find((v) => v.name === name)?.valueFrom?.secretKeyRef
      expect(ref, name).toEqual({ name: secret.metadata.name, key: name })
      expect(Object.keys(secret.stringData ?? {})).toContain(name)
    }
  })

  it('the Secret example holds placeholders, not usable values', () => {
    expect(() => loadConfig({ ...secret.stringData })).toThrow(/ENCRYPTION_KEY must be 32 bytes/)
    for (const value of Object.values(secret.stringData ?? {})) expect(value).toMatch(/[A-Z_]{8,}/)
  })

  it('leaves migrations to a Job on the same image running the built migration entry', () => {
    expect(env.MIGRATE_ON_START).toBe('false')
    const job = one('Job')
    const migrate = job.spec.template.spec.containers[0]!
    expect(migrate.image).toBe(container.image)
    expect(migrate.command).toEqual(['node', 'dist/cli/db.js', 'migrate'])
    expect(existsSync(sourceOf(migrate.command![1]!))).toBe(true)
    expectRealSettings(
      migrate.env.map((v) => v.name),
      'Job',
    )
  })

  it('points the Service, HPA, PodDisruptionBudget and NetworkPolicy at the Deployment and its port', () => {
    const podLabels = deployment.spec.template.metadata.labels
    const service = one('Service')
    expect(service.spec.selector).toEqual(podLabels)
    expect(service.spec.ports[0]!.targetPort).toBe(container.ports[0]!.name)
    const hpa = one('HorizontalPodAutoscaler')
    expect(hpa.spec.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: deployment.metadata.name })
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2)
    expect(one('PodDisruptionBudget').spec.selector.matchLabels).toEqual(podLabels)
    const policy = one('NetworkPolicy')
    expect(policy.spec.podSelector.matchLabels).toEqual(podLabels)
    expect(policy.spec.ingress.flatMap((rule) => rule.ports)).toEqual([
      { port: container.ports[0]!.name, protocol: 'TCP' },
    ])
  })
})
