import { defineConfig } from 'prisma/config'

// Only the Prisma CLI reads this file. The app applies prisma/migrations itself at start
// (lib/db/migrate.ts) and connects through @prisma/adapter-pg.
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://localhost:5432/sluice' },
})
