'use client'

import { useRef, useState } from 'react'
import { UploadCard } from './upload-card'
import { useUploads } from './use-uploads'

/** The drop zone and one card per file. */
export function UploadPanel() {
  const { items, add, pause, resume, cancel } = useUploads()
  const input = useRef<HTMLInputElement>(null)
  const [dragging, setDragging] = useState(false)

  const choose = (files: FileList | null) => {
    if (files?.length) void add(Array.from(files))
  }

  return (
    <section className="flex flex-col gap-4" aria-label="Uploads">
      <div
        onDragOver={(e) => {
          e.preventDefault()
          setDragging(true)
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={(e) => {
          e.preventDefault()
          setDragging(false)
          choose(e.dataTransfer.files)
        }}
        className={`flex flex-col items-center gap-3 rounded-xl border-2 border-dashed px-6 py-10 text-center transition-colors ${
          dragging
            ? 'border-sky-500 bg-sky-50 dark:bg-sky-950'
            : 'border-slate-300 bg-white dark:border-slate-700 dark:bg-slate-900'
        }`}
      >
        <p className="text-lg font-medium">Drop CSV files here</p>
        <p className="text-sm text-slate-500 dark:text-slate-400">One or many, of any size. Or</p>
        <button
          type="button"
          onClick={() => input.current?.click()}
          className="rounded-lg bg-sky-600 px-4 py-2 font-medium text-white hover:bg-sky-700 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-sky-600"
        >
          Choose files…
        </button>
        <input
          ref={input}
          type="file"
          multiple
          accept=".csv,.tsv,.txt,text/csv,text/plain"
          className="sr-only"
          tabIndex={-1}
          aria-label="CSV files to upload"
          data-testid="file-input"
          onChange={(e) => {
            choose(e.target.files)
            e.target.value = '' // so choosing the same file again fires `change` again
          }}
        />
      </div>

      {items.length > 0 && (
        <ul className="flex flex-col gap-3">
          {items.map((item) => (
            <li key={item.key}>
              <UploadCard
                item={item}
                onPause={() => pause(item.key)}
                onResume={() => resume(item.key)}
                onCancel={() => void cancel(item.key)}
              />
            </li>
          ))}
        </ul>
      )}
    </section>
  )
}
