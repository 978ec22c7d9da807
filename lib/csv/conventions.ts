import { fitsType, type ColumnType } from './column-types'

/**
 * How a file writes numbers, dates and missing values, learned per column from the sniffer's
 * sample, the way DuckDB's sniffer learns date formats and pandas reads missing-value markers.
 * ISO values need none of this (column-types.ts); these are the conventions people write:
 * `1.234,56`, `1,234.56`, `1 234,56`, `+5`, `31.01.2024`, `01/31/2024 14:30`, `N/A`.
 */

/** Characters that group thousands: comma, dot, space, no-break space, narrow no-break space, apostrophe (Swiss). */
export const THOUSANDS_SEPARATORS = [',', '.', ' ', '\u00a0', '\u202f', "'"] as const
export type NumberFormat = {
  decimal: '.' | ','
  thousands: '' | (typeof THOUSANDS_SEPARATORS)[number]
  /** Every positive value is written with a leading +. */
  plus: boolean
}

export type DateOrder = 'DMY' | 'MDY'
export type DateFormat = {
  order: DateOrder
  separator: '/' | '.' | '-'
  yearDigits: 2 | 4
  /** Day and month always have two digits (01.02.2024), not as few as they need (1.2.2024). */
  padded: boolean
  /** The time after the date, if the values have one. */
  time: '' | 'HH:MM' | 'HH:MM:SS'
}

/** What a column's values need beyond their type: absent for ISO values without markers. */
export type ColumnFormat = { number?: NumberFormat; date?: DateFormat; missing?: string }

/** A column of the sample as the conventions read it. */
export type SniffedColumn = {
  type: ColumnType
  format?: ColumnFormat
  /** A text column of dates whose order the sample cannot tell (every day is 12 or less): the readings a person can choose from, */
  dateReadings?: DateOrder[]
  /** and the rest of the dates' pattern, for the reading chosen. */
  dateShape?: Omit<DateFormat, 'order'>
}

// pandas' default markers, less the ones that are words in a text column ('nan' and the like);
// NaN only for numbers, where PostgreSQL would otherwise read it as not-a-number.
export const MISSING_MARKERS = ['NULL', 'null', 'N/A', 'NA', 'n/a', '#N/A', '-', '\\N', 'None', 'NaN'] as const
const NUMBERS_ONLY_MARKERS = new Set(['NaN'])

const DATE_LIKE = /^(\d{1,2})([./-])(\d{1,2})\2(\d{2}|\d{4})(?:[ T]([01]\d|2[0-3]):([0-5]\d)(:[0-5]\d)?)?$/
const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

/**
 * The type and format of each column from sample rows (the header left out). Each column is
 * read on its own (its marker, its number convention, its date shape); the file then settles
 * what one column cannot: a decimal separator that only another column shows, and the order of
 * dates whose days are all 12 or less when another column has a day above 12.
 */
export function sniffColumns(rows: readonly (readonly string[])[], columnCount: number, delimiter: string): SniffedColumn[] {
  const columns = Array.from({ length: columnCount }, (_, c) => readColumn(rows.map((r) => r[c] ?? ''), delimiter))
  // The file's decimal separator, where some column shows it unambiguously.
  const decimals = new Set(columns.flatMap((c) => (c.numbers.length === 1 ? [c.numbers[0]!.decimal] : [])))
  const fileDecimal = decimals.size === 1 ? [...decimals][0]! : delimiter === ',' ? '.' : ','
  const orders = new Set(columns.flatMap((c) => (c.dates?.orders.length === 1 ? c.dates.orders : [])))
  const fileOrder = orders.size === 1 ? [...orders][0]! : null
  const sniffed = columns.map((c) => decide(c, fileDecimal, fileOrder))
  // One COPY reads dates in one order (PostgreSQL's DateStyle): columns that disagree stay text.
  if (new Set(sniffed.flatMap((c) => (c.format?.date ? [c.format.date.order] : []))).size > 1) {
    return sniffed.map((c) => (c.format?.date ? { type: 'text' } : c))
  }
  return sniffed
}

/** Makes PostgreSQL read dates in `order` for the rest of the transaction (ISO, and year first, without one). */
export const setDateOrderSql = (order: DateOrder | undefined) => `SET LOCAL DateStyle = 'ISO, ${order ?? 'YMD'}'`

/** The order a file's dates are read in, when a column has dates that are not ISO. */
export const dateOrderOf = (columns: readonly { format?: ColumnFormat | undefined }[]): DateOrder | undefined => columns.find((c) => c.format?.date)?.format?.date?.order

type ColumnReading = {
  values: string[]
  missing: string | undefined
  iso: ColumnType
  /** Number conventions every value fits (empty when some value is not a number). */
  numbers: NumberFormat[]
  dates: { orders: DateOrder[]; format: Omit<DateFormat, 'order'> } | null
}

function readColumn(all: string[], delimiter: string): ColumnReading {
  let values = all.filter((v) => v !== '')
  const markers = new Set(values.filter((v) => (MISSING_MARKERS as readonly string[]).includes(v)))
  // One marker, used consistently; a column of markers alone says nothing about its type.
  const missing = markers.size === 1 && new Set(values).size > 1 ? [...markers][0] : undefined
  if (missing !== undefined) values = values.filter((v) => v !== missing)
  const iso = isoType(values)
  // ISO decimals (1.234) are read again in case the file writes a decimal comma and means 1234.
  const numbers = iso === 'text' || (iso === 'numeric' && values.some((v) => v.includes('.'))) ? numberFormats(values, delimiter) : []
  const dates = iso === 'text' ? dateShape(values) : null
  return { values, missing, iso, numbers, dates }
}

function decide(c: ColumnReading, fileDecimal: '.' | ',', fileOrder: DateOrder | null): SniffedColumn {
  if (!c.values.length) return { type: 'text' }
  const withMissing = (column: SniffedColumn): SniffedColumn => {
    if (c.missing === undefined) return column
    if (NUMBERS_ONLY_MARKERS.has(c.missing) && column.type !== 'numeric' && column.type !== 'bigint') return { type: 'text' }
    return { ...column, format: { ...column.format, missing: c.missing } }
  }
  const number = c.numbers.length > 1 ? (c.numbers.find((n) => n.decimal === fileDecimal) ?? c.numbers[0]) : c.numbers[0]
  // Decimals to ISO (1.234) that the file's decimal comma makes thousands (1234).
  const dotGroups = number?.thousands === '.'
  if (c.iso !== 'text' && !dotGroups) return withMissing({ type: c.iso })
  if (number) {
    const integers = c.values.every((v) => !v.includes(number.decimal) && digitsOf(v) <= 18)
    const type: ColumnType = integers ? 'bigint' : 'numeric'
    const plain = number.decimal === '.' && number.thousands === '' && !number.plus
    return withMissing(plain ? { type } : { type, format: { number } })
  }
  if (c.dates) {
    const order = c.dates.orders.length === 1 ? c.dates.orders[0]! : fileOrder
    if (order === null) return { type: 'text', dateReadings: ['DMY', 'MDY'], dateShape: c.dates.format }
    if (!c.dates.orders.includes(order)) return { type: 'text' }
    return withMissing({ type: c.dates.format.time ? 'timestamptz' : 'date', format: { date: { order, ...c.dates.format } } })
  }
  return { type: 'text' }
}

/** The first ISO type every value fits, as inferColumnTypes picks it; text when none. */
function isoType(values: string[]): ColumnType {
  if (!values.length) return 'text'
  for (const type of ['boolean', 'bigint', 'numeric', 'date', 'timestamptz'] as const) if (values.every((v) => fitsType(v, type))) return type
  return 'text'
}

const digitsOf = (v: string) => v.replace(/\D/g, '').length

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

const NUMBER_FORMATS: Array<Omit<NumberFormat, 'plus'>> = (['.', ','] as const).flatMap((decimal) =>
  (['', ...THOUSANDS_SEPARATORS] as const).filter((t) => t !== decimal).map((thousands) => ({ decimal, thousands })),
)

/** The pattern of a number in one convention: no leading zeros (007 is a code), at most 31 digits before the separator. */
export function numberPattern({ decimal, thousands }: Omit<NumberFormat, 'plus'>): RegExp {
  const d = escapeRegExp(decimal)
  const whole = thousands ? `(?:0|[1-9]\\d{0,2}(?:${escapeRegExp(thousands)}\\d{3})*|[1-9]\\d{0,30})` : '(?:0|[1-9]\\d{0,30})'
  return new RegExp(`^[+-]?${whole}(?:${d}\\d{1,30})?$`)
}
const NUMBER_PATTERNS = NUMBER_FORMATS.map((f) => ({ format: f, pattern: numberPattern(f) }))

/**
 * The conventions every value fits, with a sign of their use (a thousands separator no value
 * uses is not the column's): a decimal comma only when the delimiter is not a comma.
 */
function numberFormats(values: string[], delimiter: string): NumberFormat[] {
  // -0 stays text, as in column-types.ts: numeric would write it back as 0.
  if (!values.length || values.some((v) => /^-0(?:[.,]0+)?$/.test(v))) return []
  const plus = values.some((v) => v.startsWith('+')) && values.every((v) => v.startsWith('+') || v.startsWith('-') || /^0(?:[.,]0+)?$/.test(v))
  const fits = NUMBER_PATTERNS.filter(({ format, pattern }) => {
    if (format.decimal === ',' && delimiter === ',') return false
    if (format.thousands && !values.some((v) => v.includes(format.thousands))) return false
    return values.every((v) => pattern.test(v))
  })
  return fits.map(({ format }) => ({ ...format, plus }))
}

/**
 * The shape of a column of day-month-year or month-day-year dates (one separator, one year
 * length, one time shape), and which orders read every value as a real date; null when the
 * values are not all such dates.
 */
function dateShape(values: string[]): ColumnReading['dates'] {
  let shape: Omit<DateFormat, 'order'> | null = null
  let dmy = true
  let mdy = true
  let padded = true
  for (const v of values) {
    const m = DATE_LIKE.exec(v)
    if (!m) return null
    const [, a, separator, b, year, , , seconds] = m
    const time = m[5] === undefined ? '' : seconds === undefined ? 'HH:MM' : 'HH:MM:SS'
    const here = { separator: separator as DateFormat['separator'], yearDigits: year!.length as 2 | 4, time } as const
    if (!shape) shape = { ...here, padded: true }
    else if (shape.separator !== here.separator || shape.yearDigits !== here.yearDigits || shape.time !== here.time) return null
    if (a!.length < 2 || b!.length < 2) padded = false
    dmy &&= isDayMonth(Number(a), Number(b), year!)
    mdy &&= isDayMonth(Number(b), Number(a), year!)
    if (!dmy && !mdy) return null
  }
  if (!shape) return null
  const orders: DateOrder[] = []
  if (dmy) orders.push('DMY')
  if (mdy) orders.push('MDY')
  return { orders, format: { ...shape, padded } }
}

function isDayMonth(day: number, month: number, year: string): boolean {
  if (month < 1 || month > 12 || day < 1 || day > DAYS_IN_MONTH[month - 1]!) return false
  if (month !== 2 || day !== 29) return true
  // Two-digit years as PostgreSQL reads them: 70–99 are 19xx, 00–69 20xx.
  const y = year.length === 2 ? (Number(year) >= 70 ? 1900 : 2000) + Number(year) : Number(year)
  return y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0)
}

/** Whether a non-empty value fits a column of this type and format (the format's marker fits any). */
export function fitsColumn(value: string, type: ColumnType, format: ColumnFormat | undefined): boolean {
  if (format?.missing === value) return true
  if (format?.number) return numberPattern(format.number).test(value)
  if (format?.date) {
    const shape = dateShape([value])
    return shape !== null && shape.orders.includes(format.date.order) && shape.format.separator === format.date.separator && shape.format.yearDigits === format.date.yearDigits
  }
  return fitsType(value, type)
}

const THOUSANDS_NAMES: Record<string, string> = { '\u00a0': ' ', '\u202f': ' ' }

/** The words of a date pattern: the day, month and year as padded or not, and the time. */
type PatternWords = { day: [string, string]; month: [string, string]; year: Record<2 | 4, string>; time: Record<DateFormat['time'], string> }
// [unpadded, padded]
const PERSON_WORDS: PatternWords = { day: ['D', 'DD'], month: ['M', 'MM'], year: { 2: 'YY', 4: 'YYYY' }, time: { '': '', 'HH:MM': ' HH:MM', 'HH:MM:SS': ' HH:MM:SS' } }
const TO_CHAR_WORDS: PatternWords = { day: ['FMDD', 'DD'], month: ['FMMM', 'MM'], year: { 2: 'YY', 4: 'YYYY' }, time: { '': '', 'HH:MM': ' HH24:MI', 'HH:MM:SS': ' HH24:MI:SS' } }

function writePattern(date: DateFormat, words: PatternWords): string {
  const day = words.day[date.padded ? 1 : 0]
  const month = words.month[date.padded ? 1 : 0]
  const [first, second] = date.order === 'DMY' ? [day, month] : [month, day]
  return `${first}${date.separator}${second}${date.separator}${words.year[date.yearDigits]}${words.time[date.time]}`
}

/** The date pattern a format writes, as a person reads it: DD.MM.YYYY, M/D/YY HH:MM. */
export const datePattern = (date: DateFormat): string => writePattern(date, PERSON_WORDS)

/** The pattern PostgreSQL's to_char writes a date of this format with: DD.MM.YYYY, FMMM/FMDD/YY HH24:MI. */
export const datePatternSql = (date: DateFormat): string => writePattern(date, TO_CHAR_WORDS)

/** How the file writes a column's values, for the import page: "1.234.567,89", "DD.MM.YYYY", "N/A for missing". */
export function describeFormat(format: ColumnFormat): string {
  const parts: string[] = []
  if (format.number) {
    const { decimal, thousands, plus } = format.number
    const group = THOUSANDS_NAMES[thousands] ?? thousands
    parts.push(`written ${plus ? '+' : ''}1${group}234${group}567${decimal}89`)
  }
  if (format.date) parts.push(`written ${datePattern(format.date)}`)
  if (format.missing !== undefined) parts.push(`${format.missing} for missing`)
  return parts.join(' · ')
}

