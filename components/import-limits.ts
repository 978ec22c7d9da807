// Shared by the import page's server render and its client part (a "use client" module's
// constants reach a server component only as references, not as values).

/** Rows in the import page's preview table. */
export const PREVIEW_ROWS = 50
/** Rejected lines listed on the import page. */
export const REJECTS_SHOWN = 100
