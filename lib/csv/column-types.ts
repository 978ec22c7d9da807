/**
 * The types a column of an imported table can have, and which values fit each.
 *
 * A value fits a type only when PostgreSQL reads it as that type AND writes it back the same
 * way, so that an export gives back what the file said: "007" stays text (a zip code, not 7),
 * "1e5" stays text (numeric would write 100000), "-0" stays text. These are the ISO forms;
 * conventions.ts reads the others (1.234,56, 31.01.2024), and orders dates only when the sample
 * settles the order: guessing is how a spreadsheet turns 3 April into 4 March.
 */
export const COLUMN_TYPES = ['boolean', 'bigint', 'numeric', 'date', 'timestamptz', 'text'] as const
export type ColumnType = (typeof COLUMN_TYPES)[number]

/** Each type as a person reads it: on the detail page and in a reject's reason. */
export const COLUMN_TYPE_LABELS: Record<ColumnType, string> = {
  boolean: 'true or false',
  bigint: 'whole number',
  numeric: 'decimal number',
  date: 'date',
  timestamptz: 'timestamp',
  text: 'text',
}

const BOOLEAN = /^(true|false)$/i
// At most 18 digits: always inside bigint's range, so the sample never picks a type a later
// value of the same shape could overflow.
const INTEGER = /^-?(0|[1-9]\d{0,17})$/
const DECIMAL = /^-?(0|[1-9]\d{0,30})\.\d{1,30}$/
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/
// A date alone fits a timestamp too (midnight UTC): a column of both is a timestamp column.
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})([T ]([01]\d|2[0-3]):([0-5]\d)(:[0-5]\d(\.\d{1,6})?)?(Z|[+-]([01]\d|2[0-3])(:?[0-5]\d)?)?)?$/

const NEGATIVE_ZERO = /^-0(\.0+)?$/

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

function isCalendarDate(year: string, month: string, day: string): boolean {
  const y = Number(year)
  const m = Number(month)
  const d = Number(day)
  if (y < 1 || m < 1 || m > 12 || d < 1) return false
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0)
  return d <= (m === 2 ? (leap ? 29 : 28) : DAYS_IN_MONTH[m - 1]!)
}

const FITS: Record<Exclude<ColumnType, 'text'>, (value: string) => boolean> = {
  boolean: (v) => BOOLEAN.test(v),
  bigint: (v) => INTEGER.test(v) && !NEGATIVE_ZERO.test(v),
  numeric: (v) => (INTEGER.test(v) || DECIMAL.test(v)) && !NEGATIVE_ZERO.test(v),
  date: (v) => {
    const m = DATE.exec(v)
    return m !== null && isCalendarDate(m[1]!, m[2]!, m[3]!)
  },
  timestamptz: (v) => {
    const m = TIMESTAMP.exec(v)
    return m !== null && isCalendarDate(m[1]!, m[2]!, m[3]!)
  },
}

/** Whether a non-empty value fits `type` (every value fits text). */
export function fitsType(value: string, type: ColumnType): boolean {
  return type === 'text' || FITS[type](value)
}

/**
 * Infers one type per column from sample rows: the first type of COLUMN_TYPES that every
 * non-empty value fits (an empty value is NULL and fits any). A column with no value is text.
 */
export function inferColumnTypes(rows: readonly (readonly string[])[], columnCount: number): ColumnType[] {
  const types: ColumnType[] = []
  for (let c = 0; c < columnCount; c++) {
    let candidates = COLUMN_TYPES.filter((t) => t !== 'text')
    let seen = false
    for (const row of rows) {
      const value = row[c]
      if (value === undefined || value === '') continue
      seen = true
      candidates = candidates.filter((t) => FITS[t](value))
      if (!candidates.length) break
    }
    types.push(seen ? (candidates[0] ?? 'text') : 'text')
  }
  return types
}
