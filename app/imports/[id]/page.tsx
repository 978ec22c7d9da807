import type { Metadata } from 'next'
import Link from 'next/link'
import { notFound } from 'next/navigation'
import { cache } from 'react'
import { ImportDetail } from '@/components/import-detail'
import { PREVIEW_ROWS, REJECTS_SHOWN } from '@/components/import-limits'
import { SluiceError } from '@/lib/http/errors'
import { getImport, listRejects, listRows, storageOf, toImportDto } from '@/lib/imports/imports'
import { AccountBar } from '@/components/account-bar'
import { signedInOrRedirect } from '@/lib/auth/page-principal'
import { ownedBy } from '@/lib/auth/owner-scope'

export const dynamic = 'force-dynamic'

/** The import, or Next's not-found page; read once per request for the title and the page. */
const findImport = cache(async (id: string) => {
  const who = await signedInOrRedirect(`/imports/${id}`)
  try {
    return { who, imp: await getImport(id, ownedBy(who)) }
  } catch (error) {
    if (error instanceof SluiceError && error.code === 'NOT_FOUND') notFound()
    throw error
  }
})

export async function generateMetadata({ params }: PageProps<'/imports/[id]'>): Promise<Metadata> {
  const { imp } = await findImport((await params).id)
  return { title: `${imp.fileName} · Sluice` }
}

export default async function ImportPage({ params }: PageProps<'/imports/[id]'>) {
  const { id } = await params
  const { who, imp } = await findImport(id)
  const [rows, rejects, storage] = await Promise.all([
    listRows(id, { limit: PREVIEW_ROWS, offset: 0 }, ownedBy(who)),
    listRejects(id, { limit: REJECTS_SHOWN, offset: 0 }, ownedBy(who)),
    storageOf(imp),
  ])
  return (
    <main className="mx-auto flex max-w-5xl flex-col gap-6 px-4 py-8 sm:py-12">
      <AccountBar name={who.name} email={who.email} isAdmin={who.isAdmin} />
      <header>
        <Link
          href="/"
          className="text-sm font-medium text-sky-700 underline-offset-2 hover:underline focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-sky-600 dark:text-sky-300"
        >
          ← Uploads and imports
        </Link>
        <h1 className="mt-2 text-2xl font-semibold tracking-tight break-all sm:text-3xl">{imp.fileName}</h1>
      </header>
      <ImportDetail initial={{ ...toImportDto(imp), storage }} rows={rows} rejects={rejects} />
    </main>
  )
}
