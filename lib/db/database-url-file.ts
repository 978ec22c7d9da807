import path from 'node:path'

/**
 * Where `npm start` writes the URL of its embedded PostgreSQL while it runs (mode 0600: it
 * holds the password), so that `npm run worker` on the same machine can join it.
 */
export const databaseUrlFile = (dataDir: string) => path.join(dataDir, 'database-url')
