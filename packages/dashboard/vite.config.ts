// The console is served by the service itself under /dashboard/ (server: modules/dashboard/static.ts), so
// every asset URL starts there. Asset names carry a content hash, which lets the server cache them for a year.
import react from '@vitejs/plugin-react'
import { defineConfig } from 'vite'

export default defineConfig({
  base: '/dashboard/',
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false },
  // `npm run dev -w @pos/dashboard` next to `npm run dev`: the API calls go to the service on port 3000.
  server: { proxy: { '/v1': 'http://127.0.0.1:3000' } },
})
