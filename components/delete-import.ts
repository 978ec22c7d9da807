import type { ImportDto } from '@/lib/imports/schemas'

/**
 * Deletes an import for good after the confirmation that names what goes (its table, its
 * uploaded file, its exports and their links): from its page and from the list of earlier
 * imports alike. 'kept' when the person said no; the server's message when it refused.
 */
export async function deleteImportAfterAsking(imp: Pick<ImportDto, 'id' | 'fileName' | 'tableName' | 'status'>): Promise<'deleted' | 'kept' | { error: string }> {
  const running = ['QUEUED', 'PROCESSING', 'PAUSED', 'RECEIVING'].includes(imp.status) ? ' It is still under way: it is stopped first.' : ''
  const question = `Delete the import of ${imp.fileName}? Its table ${imp.tableName}, its uploaded file and its exports (and their download links) are deleted for good.${running}`
  if (!window.confirm(question)) return 'kept'
  try {
    const res = await fetch(`/api/imports/${imp.id}`, { method: 'DELETE' })
    if (res.status === 204 || res.status === 404) return 'deleted' // 404: gone already
    const body = (await res.json().catch(() => null)) as { error?: { message?: string } } | null
    return { error: body?.error?.message ?? `The server answered ${res.status}` }
  } catch {
    return { error: 'The server could not be reached: nothing was deleted. Try again.' }
  }
}
