/**
 * Sluice keeps its bookkeeping in a schema of its own (as graphile-worker keeps
 * graphile_worker), so that when DATABASE_URL is someone's own database its tables never sit
 * among theirs in public. Every connection Sluice opens searches only this schema (and
 * pg_catalog), so its queries name its tables plainly; a person's tables are always named
 * with their schema.
 */
export const SLUICE_SCHEMA = 'sluice'
export const SLUICE_SEARCH_PATH = `-c search_path=${SLUICE_SCHEMA}`
