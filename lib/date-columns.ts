// A date, or a timestamp with optional seconds, fraction and offset: what the export's date
// range reads as a date on the server (lib/exports/export-query.ts) when it is written this way.
const ISO_DATE = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?)?$/

/** True for "2024-01-31", "2024-01-31T12:00", "2024-01-31 12:00:00.5+02:00" and the like. */
export function looksLikeIsoDate(value: string): boolean {
  return ISO_DATE.test(value)
}

type Column = { name: string; header: string }
type Row = Record<string, string | null>

/**
 * The columns that hold dates, judged from a sample of rows: every non-empty value in the
 * sample looks like an ISO date or timestamp, and there is at least one. Columns are text
 * until typed columns arrive, so a sample is the best guess there is; the server reads the
 * values itself and leaves out any that are not dates.
 */
export function findDateColumns<C extends Column>(columns: readonly C[], rows: readonly Row[]): C[] {
  return columns.filter((column) => {
    const values = rows.map((row) => row[column.name] ?? '').filter((v) => v !== '')
    return values.length > 0 && values.every(looksLikeIsoDate)
  })
}
