import { distance } from 'fastest-levenshtein'
import type { ImportColumn, TypedColumn } from '../imports/column-names'
import type { MappingSuggestion } from './schemas'
import type { TargetColumn } from './targets'

/** A name as a person means it: case, spaces, _ and - do not count ("E-mail" is "email"). */
export const normalName = (name: string) => name.toLowerCase().replace(/[\s_-]+/g, '')

// Below this share of equal characters, two names are not offered as a guess.
const GUESS_SIMILARITY = 0.6

const similarity = (a: string, b: string) => (a.length + b.length === 0 ? 1 : 1 - distance(a, b) / Math.max(a.length, b.length))

/**
 * Which import column fills each column of the table: first the same name (ignoring case,
 * spaces, _ and -, on the header or the column's name), then what this person mapped last
 * time for the same table and headers (`remembered`), then the most similar name (a guess).
 * An import column fills at most one column; generated columns are never filled.
 */
export function suggestMapping(
  targetColumns: readonly TargetColumn[],
  sources: readonly TypedColumn[],
  remembered: Record<string, string | null> | null,
): Pick<MappingSuggestion, 'mapping' | 'skipped'> {
  const writable = targetColumns.filter((c) => !c.generated)
  const chosen = new Map<string, { source: string; how: 'name' | 'remembered' | 'guess' }>()
  const used = new Set<string>()
  const take = (column: string, source: string, how: 'name' | 'remembered' | 'guess') => {
    chosen.set(column, { source, how })
    used.add(source)
  }

  for (const column of writable) {
    const wanted = normalName(column.name)
    const same = sources.find((s) => !used.has(s.name) && (normalName(s.header) === wanted || normalName(s.name) === wanted))
    if (same) take(column.name, same.name, 'name')
  }
  if (remembered) {
    for (const column of writable) {
      const source = remembered[column.name]
      if (chosen.has(column.name) || !source || used.has(source) || !sources.some((s) => s.name === source)) continue
      take(column.name, source, 'remembered')
    }
  }
  for (const column of writable) {
    if (chosen.has(column.name)) continue
    const wanted = normalName(column.name)
    let best: { source: string; score: number } | null = null
    for (const s of sources) {
      if (used.has(s.name)) continue
      const score = Math.max(similarity(wanted, normalName(s.header)), similarity(wanted, normalName(s.name)))
      if (score >= GUESS_SIMILARITY && (!best || score > best.score)) best = { source: s.name, score }
    }
    if (best) take(column.name, best.source, 'guess')
  }

  return {
    mapping: writable.map((c) => ({ column: c.name, source: chosen.get(c.name)?.source ?? null, how: chosen.get(c.name)?.how ?? null })),
    skipped: sources.filter((s) => !used.has(s.name)).map((s) => s.name),
  }
}

/** The import's headers as one text, so that a remembered mapping is found for the same file layout. */
export const headersKey = (sources: readonly ImportColumn[]) => JSON.stringify(sources.map((s) => s.header))
