// `npm run dev`: the server for a developer's loop (tsx watch restarts it on every change). Defaults fit for
// that loop, each still overridden by the environment, then the process entry itself. A restart or a Ctrl-C
// should not wait for load balancers that do not exist: no readiness delay before draining.
const DEV_DEFAULTS: Readonly<Record<string, string>> = {
  SHUTDOWN_READINESS_DELAY_MS: '0',
}

for (const [name, value] of Object.entries(DEV_DEFAULTS)) process.env[name] ??= value

// Imported only now: main.ts reads the environment as it loads.
await import('./main.js')
