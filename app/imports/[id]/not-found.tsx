import Link from 'next/link'

export default function ImportNotFound() {
  return (
    <main className="mx-auto flex max-w-3xl flex-col gap-3 px-4 py-8 sm:py-12" data-testid="import-not-found">
      <h1 className="text-2xl font-semibold tracking-tight">No such import</h1>
      <p className="text-slate-600 dark:text-slate-400">
        There is no import with this address. It may have been mistyped, or it belongs to another Sluice.
      </p>
      <Link
        href="/"
        className="self-start text-sm font-medium text-sky-700 underline-offset-2 hover:underline focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-sky-600 dark:text-sky-300"
      >
        ← Uploads and imports
      </Link>
    </main>
  )
}
