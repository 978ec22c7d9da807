import { formatBytes, formatRows } from '@/lib/format'
import type { ImportDto } from '@/lib/imports/schemas'

/** An upload that brought no bytes for this long is standing still, as far as the card can tell. */
export const UPLOAD_STILL_MS = 5000

/**
 * The card's line under the bar. `upload` is there while the file is still arriving: how much
 * of it is on the server, and whether it brought bytes lately.
 */
export function describeImport(imp: ImportDto, percent: number, upload: { percent: number; arriving: boolean } | null): string {
  switch (imp.status) {
    case 'QUEUED':
      if (upload) {
        // A queued import whose upload goes on has a job: it waits for a free worker. One whose
        // upload stands still handed its worker back and goes on with the upload's next bytes.
        const waitingFor = upload.arriving ? 'Waiting for a worker' : 'Waiting for the file to arrive'
        return `${waitingFor} · ${percent}% imported, ${upload.percent}% uploaded`
      }
      return imp.bytesProcessed > 0 ? `Waiting to continue at ${percent}%` : 'Waiting for a worker…'
    case 'PROCESSING':
      if (upload) return `${percent}% of ${formatBytes(imp.totalBytes)} imported · ${upload.percent}% uploaded`
      return `${percent}% of ${formatBytes(imp.totalBytes)}`
    case 'PAUSED':
    case 'KILLED':
    case 'FAILED':
      return `${percent}% of ${formatBytes(imp.totalBytes)}`
    case 'RECEIVING':
      return `${formatRows(imp.rowsImported)} received so far through the batch API`
    case 'PROCESSED':
      return `${formatRows(imp.rowsImported)} in ${imp.tableName}`
    case 'STOPPED':
      return 'Every row was removed'
  }
}
