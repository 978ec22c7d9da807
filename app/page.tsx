import { link } from '@/components/styles'
import { UploadPanel } from '@/components/upload-panel'

export default function HomePage() {
  return (
    <main className="mx-auto flex max-w-3xl flex-col gap-6 px-4 py-8 sm:py-12">
      <header>
        <div className="flex items-baseline justify-between gap-4">
          <h1 className="text-3xl font-semibold tracking-tight">Sluice</h1>
          {/* A plain link, not next/link: prefetching /docs would load its 280 kB stylesheet here. */}
          <a href="/docs" className={`${link} text-sm`}>
            API reference
          </a>
        </div>
        <p className="mt-1 text-slate-600 dark:text-slate-400">
          Drop CSV files of any size. They stream to the server in resumable pieces (a dropped connection or a
          reloaded tab costs nothing), then land in PostgreSQL tables while you watch, pause or stop them.
        </p>
      </header>
      <UploadPanel />
    </main>
  )
}
