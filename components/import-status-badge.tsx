import type { ImportDto } from '@/lib/imports/schemas'

type ImportStatus = ImportDto['status']

/** Each status in a person's words, with its colour. */
export const STATUS_LABEL: Record<ImportStatus, string> = {
  QUEUED: 'Queued',
  RECEIVING: 'Receiving',
  PROCESSING: 'Importing',
  PAUSED: 'Paused',
  PROCESSED: 'Imported',
  STOPPED: 'Stopped',
  KILLED: 'Killed',
  FAILED: 'Failed',
}

const STATUS_COLOUR: Record<ImportStatus, string> = {
  QUEUED: 'bg-slate-100 text-slate-700 dark:bg-slate-800 dark:text-slate-300',
  RECEIVING: 'bg-sky-100 text-sky-800 dark:bg-sky-950 dark:text-sky-300',
  PROCESSING: 'bg-sky-100 text-sky-800 dark:bg-sky-950 dark:text-sky-300',
  PAUSED: 'bg-amber-100 text-amber-800 dark:bg-amber-950 dark:text-amber-300',
  PROCESSED: 'bg-emerald-100 text-emerald-800 dark:bg-emerald-950 dark:text-emerald-300',
  STOPPED: 'bg-slate-200 text-slate-700 dark:bg-slate-800 dark:text-slate-300',
  KILLED: 'bg-orange-100 text-orange-800 dark:bg-orange-950 dark:text-orange-300',
  FAILED: 'bg-red-100 text-red-800 dark:bg-red-950 dark:text-red-300',
}

/** A small coloured label for an import's status. */
export function ImportStatusBadge({ status }: { status: ImportStatus }) {
  return (
    <span className={`inline-flex shrink-0 items-center rounded-full px-2 py-0.5 text-xs font-medium ${STATUS_COLOUR[status]}`} data-testid="import-status">
      {STATUS_LABEL[status]}
    </span>
  )
}
