// Class lists shared by the cards and panels, so their buttons and links look alike.

export const button =
  'rounded-md border px-3 py-1.5 text-sm font-medium focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-sky-600 disabled:opacity-40 aria-disabled:opacity-40'
export const neutralButton = `${button} border-slate-300 dark:border-slate-700`
export const primaryButton = `${button} border-sky-600 text-sky-700 dark:text-sky-300`
export const dangerButton = `${button} border-red-300 text-red-700 dark:border-red-800 dark:text-red-300`

export const link =
  'font-medium text-sky-700 underline-offset-2 hover:underline focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-sky-600 dark:text-sky-300'

export const input =
  'w-full rounded-md border border-slate-300 bg-white px-3 py-2 text-sm focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-sky-600 dark:border-slate-700 dark:bg-slate-900'
export const label = 'flex flex-col gap-1 text-sm font-medium'
export const errorText = 'text-sm text-red-700 dark:text-red-300'
